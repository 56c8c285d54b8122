import TerminalUI

/// A semantic role on the dashboard screen that a theme gives a style to.
///
/// Screens ask for a role (`theme[.bad]`), never for a colour, so a theme file can restyle everything.
/// The raw value is the key used in theme files.
public enum ThemeRole: String, CaseIterable, Sendable, Hashable {
    /// Ordinary text.
    case text
    /// Secondary text: hints, units, timestamps.
    case muted
    /// Emphasis that is neither good nor bad (current values, links).
    case accent
    /// The top header bar.
    case header
    /// Titles of panes and blocks.
    case title
    /// Pane borders.
    case border
    /// The selected row of a table or list.
    case selection
    /// A healthy figure.
    case ok
    /// A figure worth watching (degrading, not yet bad).
    case watch
    /// A bad figure (errors, regressions); must stand out.
    case bad
    /// No data yet (too little traffic to judge).
    case noData = "no-data"
    /// Traffic and figures of the new service.
    case newService = "new-service"
    /// Traffic and figures of the current (legacy) service.
    case currentService = "current-service"
    /// Key names in the footer and help (`q`, `?`).
    case key
    /// The footer with key hints.
    case footer
    /// The status line (last action, messages).
    case status
    /// The inside of dialogs and the help overlay.
    case dialog
    /// The border and title of dialogs and the help overlay.
    case dialogBorder = "dialog-border"
    /// Error messages.
    case error
}

/// A complete set of styles, one per `ThemeRole`.
public struct Theme: Sendable, Equatable {
    /// The theme's name (the file name without `.yaml`, or `default` for the built-in theme).
    public var name: String
    private var styles: [ThemeRole: Style]

    /// A theme named `name` with `styles`; roles missing from `styles` take the built-in default's style.
    public init(name: String, styles: [ThemeRole: Style]) {
        self.name = name
        var all = Theme.defaultStyles
        for (role, style) in styles { all[role] = style }
        self.styles = all
    }

    /// The style for a role.
    public subscript(role: ThemeRole) -> Style {
        get { styles[role] ?? .plain }
        set { styles[role] = newValue }
    }

    /// The built-in dark theme, compiled in so the tool works without any theme file.
    /// `themes/default.yaml` mirrors it (a test keeps the two identical).
    public static let `default` = Theme(name: "default", styles: [:])

    private static let defaultStyles: [ThemeRole: Style] = [
        .text: Style(),
        .muted: Style(fg: .brightBlack),
        .accent: Style(fg: .cyan),
        .header: Style(fg: .brightWhite, bg: .blue, modifiers: .bold),
        .title: Style(fg: .cyan, modifiers: .bold),
        .border: Style(fg: .brightBlack),
        .selection: Style(fg: .black, bg: .cyan, modifiers: .bold),
        .ok: Style(fg: .green),
        .watch: Style(fg: .yellow),
        .bad: Style(fg: .brightRed, modifiers: .bold),
        .noData: Style(fg: .brightBlack, modifiers: .dim),
        .newService: Style(fg: .brightCyan),
        .currentService: Style(fg: .magenta),
        .key: Style(fg: .yellow, modifiers: .bold),
        .footer: Style(fg: .white, bg: .brightBlack),
        .status: Style(fg: .white),
        .dialog: Style(fg: .white, bg: .blue),
        .dialogBorder: Style(fg: .brightWhite, bg: .blue, modifiers: .bold),
        .error: Style(fg: .brightRed, modifiers: .bold),
    ]
}
