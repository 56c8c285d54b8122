import Autopilot
import Foundation
import Yams

extension Settings {
    /// The keys of the `guard:` mapping, in the order the README lists them.
    static let guardKeys = "auto_rollback, endpoints, cooldown, notify"

    /// Reads the `guard:` mapping; a wrong key or value is an error at its line saying what is allowed.
    static func parseGuard(_ value: Node, file: String, at: Int) throws(SettingsError) -> GuardSettings {
        guard let mapping = value.mapping else {
            throw SettingsError(file: file, line: at, message: "guard must be a mapping (\(guardKeys)), e.g. guard: {auto_rollback: true, cooldown: 10m}")
        }
        var g = GuardSettings()
        for (k, node) in mapping {
            let key = k.string ?? "?"
            switch key {
            case "auto_rollback":
                guard let b = node.scalar.flatMap({ Bool($0.string) }) else {
                    throw SettingsError(file: file, line: line(k), message: "guard.auto_rollback must be true or false")
                }
                g.autoRollback = b
            case "endpoints":
                guard let seq = node.sequence else {
                    throw SettingsError(file: file, line: line(k), message: "guard.endpoints must be a list of endpoint names or keys (leave it out to guard them all)")
                }
                var names: [String] = []
                for item in seq {
                    guard let s = item.scalar?.string, !s.isEmpty else {
                        throw SettingsError(file: file, line: line(item), message: "guard.endpoints entries must be endpoint names or keys")
                    }
                    names.append(s)
                }
                g.endpoints = names
            case "cooldown":
                guard let text = node.scalar?.string, let seconds = DurationText.seconds(text) else {
                    throw SettingsError(file: file, line: line(k), message: "guard.cooldown must be a duration such as 10m, 600s or 1h")
                }
                g.cooldownSeconds = seconds
            case "notify":
                guard let seq = node.sequence, !seq.isEmpty else {
                    throw SettingsError(file: file, line: line(k), message: "guard.notify must be an argv list, e.g. [curl, -sS, --data-binary, \"@-\", https://hooks.example/cutover]")
                }
                var argv: [String] = []
                for item in seq {
                    guard let s = item.scalar?.string else {
                        throw SettingsError(file: file, line: line(item), message: "guard.notify must be a list of strings (the argv; the event arrives on its stdin)")
                    }
                    argv.append(s)
                }
                g.notify = argv
            default:
                throw SettingsError(file: file, line: line(k), message: "unknown key guard.\(key); expected \(guardKeys)")
            }
        }
        return g
    }
}
