import Foundation
import TerminalUI
import Yams

/// A problem found in a theme file: where (file, line, column when known) and what to change.
public struct ThemeDiagnostic: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(file: String, line: Int?, column: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line:column: message`, the format editors and terminals make clickable.
    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if line != nil, let column { location += ":\(column)" }
        return "\(location): \(message)"
    }
}

/// The theme to use and what went wrong getting it; on any problem the theme is the built-in default.
public struct ThemeLoadResult: Sendable {
    public var theme: Theme
    public var diagnostics: [ThemeDiagnostic]
    /// The file the theme came from; nil for the built-in default.
    public var source: URL?

    public init(theme: Theme, diagnostics: [ThemeDiagnostic], source: URL?) {
        self.theme = theme
        self.diagnostics = diagnostics
        self.source = source
    }
}

/// Reads theme files (YAML, one style per role) and finds themes by name in a list of directories.
///
/// File format (every key optional; unset roles keep the built-in default's style):
///
///     name: my-theme
///     roles:
///       ok: green                 # shorthand: foreground only
///       bad: { fg: bright-red, bold: true }
///       selection: { fg: black, bg: "#5fafff", reverse: false }
///
/// Colours: `default`, the eight ANSI names, `bright-NAME`, `grey`, `0`...`255`, or `"#rrggbb"` (quoted:
/// `#` starts a YAML comment). Modifiers: `bold`, `dim`, `underline`, `reverse` (true/false).
public enum ThemeLoader {
    /// The file extension of theme files.
    public static let fileExtension = "yaml"
    static let styleKeys = ["fg", "bg", "bold", "dim", "underline", "reverse"]
    static let colourHelp = "use default, black, red, green, yellow, blue, magenta, cyan, white, bright-<name>, grey, 0-255 or \"#rrggbb\""

    /// Parses theme YAML; on any problem returns the built-in default and every problem found.
    ///
    /// - Parameters:
    ///   - yaml: the file's text.
    ///   - name: the theme name when the file does not set `name`.
    ///   - file: the path shown in diagnostics.
    public static func parse(yaml: String, name: String, file: String) -> ThemeLoadResult {
        var diagnostics: [ThemeDiagnostic] = []
        func report(_ node: Node?, _ message: String) {
            diagnostics.append(ThemeDiagnostic(file: file, line: node?.mark?.line, column: node?.mark?.column, message: message))
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            return ThemeLoadResult(theme: .default, diagnostics: [diagnostic(for: error, file: file)], source: nil)
        } catch {
            let d = ThemeDiagnostic(file: file, line: nil, message: "could not read YAML: \(error); fix the file's syntax")
            return ThemeLoadResult(theme: .default, diagnostics: [d], source: nil)
        }
        guard let root else {
            return ThemeLoadResult(theme: Theme(name: name, styles: [:]), diagnostics: [], source: nil)  // empty file
        }
        guard let top = root.mapping else {
            report(root, "a theme file must be a mapping with `name:` and `roles:`; see themes/default.yaml")
            return ThemeLoadResult(theme: .default, diagnostics: diagnostics, source: nil)
        }
        var themeName = name
        var styles: [ThemeRole: Style] = [:]
        for (keyNode, value) in top {
            let key = keyNode.string ?? ""
            switch key {
            case "name":
                if let s = value.scalar?.string, !s.isEmpty { themeName = s } else { report(value, "`name` must be a non-empty string") }
            case "description":
                if value.scalar == nil { report(value, "`description` must be a string") }
            case "roles":
                guard let roles = value.mapping else {
                    report(value, "`roles` must be a mapping from role name to style, e.g. `ok: { fg: green }`")
                    continue
                }
                for (roleNode, styleNode) in roles {
                    let roleName = roleNode.string ?? ""
                    guard let role = ThemeRole(rawValue: roleName) else {
                        let known = ThemeRole.allCases.map(\.rawValue).joined(separator: ", ")
                        report(roleNode, "unknown role '\(roleName)'; known roles: \(known)")
                        continue
                    }
                    if let style = parseStyle(styleNode, role: roleName, report: report) { styles[role] = style }
                }
            default:
                report(keyNode, "unknown key '\(key)' at the top level; only `name`, `description` and `roles` are allowed (roles go under `roles:`)")
            }
        }
        if !diagnostics.isEmpty { return ThemeLoadResult(theme: .default, diagnostics: diagnostics, source: nil) }
        return ThemeLoadResult(theme: Theme(name: themeName, styles: styles), diagnostics: [], source: nil)
    }

    private static func parseStyle(_ node: Node, role: String, report: (Node?, String) -> Void) -> Style? {
        if let scalar = node.scalar {
            guard let color = Color(parsing: scalar.string) else {
                report(node, scalar.string.isEmpty
                    ? "role '\(role)' has no style; give a colour or a mapping like `{ fg: green, bold: true }` (quote \"#rrggbb\": # starts a comment)"
                    : "unknown colour '\(scalar.string)' for role '\(role)'; \(colourHelp)")
                return nil
            }
            return Style(fg: color)
        }
        guard let mapping = node.mapping else {
            report(node, "role '\(role)' must be a colour or a mapping like `{ fg: green, bold: true }`")
            return nil
        }
        var style = Style()
        var ok = true
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            switch key {
            case "fg", "bg":
                let text = value.scalar?.string ?? ""
                guard let color = Color(parsing: text) else {
                    report(value, text.isEmpty
                        ? "'\(role).\(key)' is empty; \(colourHelp) (quote \"#rrggbb\": # starts a YAML comment)"
                        : "unknown colour '\(text)' for '\(role).\(key)'; \(colourHelp)")
                    ok = false
                    continue
                }
                if key == "fg" { style.fg = color } else { style.bg = color }
            case "bold", "dim", "underline", "reverse":
                guard let flag = value.bool else {
                    report(value, "'\(role).\(key)' must be true or false")
                    ok = false
                    continue
                }
                let modifier: Modifiers = ["bold": .bold, "dim": .dim, "underline": .underline][key] ?? .reverse
                if flag { style.modifiers.insert(modifier) } else { style.modifiers.remove(modifier) }
            default:
                report(keyNode, "unknown style key '\(key)' in role '\(role)'; use \(styleKeys.joined(separator: ", "))")
                ok = false
            }
        }
        return ok ? style : nil
    }

    /// The diagnostic for a Yams error, with the line and column of the problem when Yams gives one.
    static func diagnostic(for error: YamlError, file: String) -> ThemeDiagnostic {
        switch error {
        case let .scanner(context, problem, mark, yaml), let .parser(context, problem, mark, yaml), let .composer(context, problem, mark, yaml):
            let around = context.map { " (\($0.text))" } ?? ""
            // A colour like #ff8800 left unquoted turns the rest of the line into a comment, which often
            // surfaces as a syntax error on this line or the next one.
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            let upper = min(lines.count, max(0, mark.line))
            let nearby = lines[min(upper, max(0, mark.line - 2))..<upper]
            let hashHint = nearby.contains { $0.contains(" #") && !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
                ? " (a # starts a YAML comment: quote colours like \"#ff8800\")" : ""
            return ThemeDiagnostic(file: file, line: mark.line, column: mark.column,
                                   message: "YAML syntax error: \(problem)\(around); fix the indentation, quoting or brackets here\(hashHint)")
        case let .duplicatedKeysInMapping(duplicates, context):
            return ThemeDiagnostic(file: file, line: context.mark.line, column: context.mark.column,
                                   message: "duplicate keys \(duplicates.joined(separator: ", ")); keep one of each")
        default:
            return ThemeDiagnostic(file: file, line: nil, message: "could not read YAML: \(error); save the file as UTF-8 text")
        }
    }

    /// Loads one theme file; named after the file unless it sets `name`.
    public static func load(contentsOf url: URL) -> ThemeLoadResult {
        let name = url.deletingPathExtension().lastPathComponent
        guard let data = FileManager.default.contents(atPath: url.path) else {
            let d = ThemeDiagnostic(file: url.path, line: nil, message: "cannot read the theme file; check it exists and is readable")
            return ThemeLoadResult(theme: .default, diagnostics: [d], source: nil)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            let d = ThemeDiagnostic(file: url.path, line: nil, message: "the theme file is not UTF-8 text; re-save it as UTF-8")
            return ThemeLoadResult(theme: .default, diagnostics: [d], source: nil)
        }
        var result = parse(yaml: text, name: name, file: url.path)
        if result.diagnostics.isEmpty { result.source = url }
        return result
    }

    /// Finds theme `name` as `NAME.yaml` in the directories, in order (the first match wins, so put the user's
    /// directory, e.g. `~/.config/cutover/themes`, before the shipped one), and loads it.
    ///
    /// `default` with no file found is the built-in theme, without diagnostics. Any other name not found, or a
    /// name that is not a plain file name, gives the built-in theme and a diagnostic listing what exists.
    /// After the directories come the themes built into the binary (`builtIn`, the source tree's `themes/` files
    /// embedded at build time), so an installed binary finds `light` wherever it runs.
    public static func load(named name: String, searchDirectories: [URL],
                            builtIn: [(name: String, file: String, text: String)] = BuiltInThemeFiles.all) -> ThemeLoadResult {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else {
            let d = ThemeDiagnostic(file: name, line: nil, message: "'\(name)' is not a theme name; give a name like `light` (no path, no extension)")
            return ThemeLoadResult(theme: .default, diagnostics: [d], source: nil)
        }
        for directory in searchDirectories {
            let url = directory.appendingPathComponent(name).appendingPathExtension(fileExtension)
            if FileManager.default.fileExists(atPath: url.path) { return load(contentsOf: url) }
        }
        if let embedded = builtIn.first(where: { $0.name == name }) {
            return parse(yaml: embedded.text, name: name, file: "(built in) " + embedded.file)
        }
        if name == Theme.default.name { return ThemeLoadResult(theme: .default, diagnostics: [], source: nil) }
        let available = availableThemes(in: searchDirectories, builtIn: builtIn)
        let looked = (searchDirectories.map(\.path) + (builtIn.isEmpty ? [] : ["the built-in themes"])).joined(separator: ", ")
        let d = ThemeDiagnostic(
            file: name + "." + fileExtension, line: nil,
            message: "theme '\(name)' not found (looked in: \(looked.isEmpty ? "no directories" : looked)); available: \(available.joined(separator: ", "))")
        return ThemeLoadResult(theme: .default, diagnostics: [d], source: nil)
    }

    /// The names of the themes in the directories and built into the binary (plus `default`), sorted, without
    /// duplicates.
    public static func availableThemes(in directories: [URL],
                                       builtIn: [(name: String, file: String, text: String)] = BuiltInThemeFiles.all) -> [String] {
        var names: Set<String> = Set([Theme.default.name] + builtIn.map(\.name))
        for directory in directories {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for entry in entries where entry.hasSuffix("." + fileExtension) {
                names.insert(String(entry.dropLast(fileExtension.count + 1)))
            }
        }
        return names.sorted()
    }
}
