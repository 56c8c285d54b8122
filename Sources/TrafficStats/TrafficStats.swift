// The TrafficStats module; see ARCHITECTURE.md.
