// The Dashboard module; see ARCHITECTURE.md.
