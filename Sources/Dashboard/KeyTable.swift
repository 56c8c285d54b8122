import TerminalUI

/// One row of the key table: the keys, the action they trigger, and how the footer and help describe it.
public struct KeyBinding: Sendable {
    /// The keys that trigger the action (the first is the one shown).
    public var keys: [Key]
    /// The action.
    public var action: Action
    /// What the action does, for the help overlay.
    public var description: String
    /// The word shown in the footer; nil keeps it out of the footer.
    public var hint: String?
    /// Whether the action changes the config (removed in read-only mode).
    public var changesConfig: Bool

    /// Creates a binding.
    public init(_ keys: [Key], _ action: Action, _ description: String, hint: String? = nil, changesConfig: Bool = false) {
        self.keys = keys
        self.action = action
        self.description = description
        self.hint = hint
        self.changesConfig = changesConfig
    }

    /// The keys as the footer and help write them (`j/↓`, `+`, `Tab`).
    public var keyLabel: String { keys.map(KeyBinding.label).joined(separator: "/") }

    /// A key's name as shown on screen.
    public static func label(_ key: Key) -> String {
        switch key {
        case .char(" "): return "Space"
        case .char(let c): return String(c)
        case .up: return "↑"
        case .down: return "↓"
        case .left: return "←"
        case .right: return "→"
        case .pageUp: return "PgUp"
        case .pageDown: return "PgDn"
        case .home: return "Home"
        case .end: return "End"
        case .enter: return "Enter"
        case .escape: return "Esc"
        case .backspace: return "Bksp"
        case .tab: return "Tab"
        case .backTab: return "S-Tab"
        case .delete: return "Del"
        case .resize: return "resize"
        case .ctrl(let c): return "^" + String(c).uppercased()
        case .function(let n): return "F\(n)"
        case .mouse(let event):
            switch event.kind {
            case .press: return "click"
            case .wheelUp: return "wheel up"
            case .wheelDown: return "wheel down"
            }
        }
    }
}

/// The one table that drives key dispatch, the footer hints and the help overlay.
public enum KeyTable {
    /// Every binding, in help order.
    public static let all: [KeyBinding] = [
        KeyBinding([.up, .char("k")], .moveSelection(-1), "select the previous row"),
        KeyBinding([.down, .char("j")], .moveSelection(1), "select the next row", hint: "select"),
        KeyBinding([.pageUp], .movePage(-1), "move the selection up a page"),
        KeyBinding([.pageDown], .movePage(1), "move the selection down a page"),
        KeyBinding([.char("g"), .home], .jump(toEnd: false), "select the first row"),
        KeyBinding([.char("G"), .end], .jump(toEnd: true), "select the last row"),
        KeyBinding([.enter], .openDetail, "open the selection in full (figures, diff, fix); Esc closes", hint: "detail"),
        KeyBinding([.char("+"), .char("=")], .raisePercent,
                   "raise the selected group one step on the ladder (in Endpoints: the selected endpoint's group)",
                   hint: "ramp", changesConfig: true),
        KeyBinding([.char("-")], .lowerPercent,
                   "lower the selected group one step on the ladder (in Endpoints: the selected endpoint's group)",
                   changesConfig: true),
        KeyBinding([.char("]")], .nextGroup, "move the selected endpoint to the next higher group", hint: "group",
                   changesConfig: true),
        KeyBinding([.char("[")], .previousGroup, "move the selected endpoint to the next lower group", changesConfig: true),
        KeyBinding([.char("m")], .pickGroup, "move the selected endpoint to a group picked from a list", changesConfig: true),
        KeyBinding([.char("r")], .rollbackSelected,
                   "roll back the selected endpoint (in Groups: every member of the selected group); confirm with y",
                   hint: "rollback", changesConfig: true),
        KeyBinding([.char("R")], .rollbackAll, "roll back every endpoint (confirm with y)", hint: "all",
                   changesConfig: true),
        KeyBinding([.char("u")], .undo, "undo the last applied change (confirm with y)", hint: "undo", changesConfig: true),
        KeyBinding([.char("N")], .createPlan,
                   "create a ramp plan for the selected endpoint (the settings' ladder, bake 10m, gate healthy; confirm with y)",
                   changesConfig: true),
        KeyBinding([.char("p")], .planCommand(.pause), "pause the selected plan (in Endpoints: the selected endpoint's plan)",
                   changesConfig: true),
        KeyBinding([.char("c")], .planCommand(.resume), "resume (continue) the selected plan", changesConfig: true),
        KeyBinding([.char("P")], .planCommand(.promote), "promote the selected plan: skip the rest of the bake and the gate once (confirm with y)",
                   changesConfig: true),
        KeyBinding([.char("X")], .planCommand(.abort), "abort the selected plan and roll its endpoint back (confirm with y)",
                   changesConfig: true),
        KeyBinding([.char("w")], .cycleWindow, "cycle the statistics window (1m, 5m, 15m, all)", hint: "window"),
        KeyBinding([.char("s")], .cycleSort, "sort by the next column", hint: "sort"),
        KeyBinding([.char("S")], .reverseSort, "reverse the sort"),
        KeyBinding([.char("/")], .startFilter, "filter endpoints (Enter keeps, Esc clears)", hint: "filter"),
        KeyBinding([.tab], .nextView, "next view (or click a tab)", hint: "view"),
        KeyBinding([.backTab], .previousView, "previous view"),
        KeyBinding([.char("1")], .showView(.endpoints), "endpoints view"),
        KeyBinding([.char("2")], .showView(.groups), "groups view"),
        KeyBinding([.char("3")], .showView(.notMigrated), "not-migrated view"),
        KeyBinding([.char("4")], .showView(.history), "history view (the journal, newest first)"),
        KeyBinding([.char("5")], .showView(.problems), "problems view"),
        KeyBinding([.char("6")], .showView(.plans), "plans view (ramp plans, who executes them)"),
        KeyBinding([.char("7")], .showView(.hosts), "hosts view (req/s, observed split, 5xx, lag, drift per host)"),
        KeyBinding([.char("H")], .cycleHostFilter, "cycle the host filter: the endpoint table shows one host's split"),
        KeyBinding([.char("t")], .cycleTheme, "cycle themes", hint: "theme"),
        KeyBinding([.char("?")], .toggleHelp, "show or hide this help", hint: "help"),
        KeyBinding([.char("q"), .ctrl("c")], .quit, "quit", hint: "quit"),
    ]

    /// What the mouse does, for the help overlay and the README (not keys of the table).
    public static let mouseHelp: [(String, String)] = [
        ("click", "select a row (a second click opens it), switch to a view by its tab, or open the last change in full (header)"),
        ("wheel", "move the selection three rows"),
    ]

    /// The bindings in effect: without the ones that change the config when `readOnly`.
    public static func bindings(readOnly: Bool) -> [KeyBinding] {
        readOnly ? all.filter { !$0.changesConfig } : all
    }

    /// The binding a key triggers, if any.
    public static func binding(for key: Key, readOnly: Bool) -> KeyBinding? {
        bindings(readOnly: readOnly).first { $0.keys.contains(key) }
    }
}
