// The Apply module; see ARCHITECTURE.md.
