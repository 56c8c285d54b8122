// The Preflight module; see ARCHITECTURE.md.
