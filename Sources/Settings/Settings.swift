// The Settings module; see ARCHITECTURE.md.
