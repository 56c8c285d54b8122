// The NginxConfig module; see ARCHITECTURE.md.
