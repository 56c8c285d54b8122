// The Rollout module; see ARCHITECTURE.md.
