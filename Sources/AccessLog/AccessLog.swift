// The AccessLog module; see ARCHITECTURE.md.
