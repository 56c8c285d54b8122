// The TerminalCurses module; see ARCHITECTURE.md.
