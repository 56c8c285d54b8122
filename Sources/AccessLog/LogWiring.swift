import Foundation

/// An error in a value given for following logs (a look-back duration or a format name).
public enum LogWiringError: Error, CustomStringConvertible, Equatable, Sendable {
    case badDuration(String)
    case unknownFormat(name: String, known: [String])

    public var description: String {
        switch self {
        case .badDuration(let text):
            return "'\(text)' is not a duration; write a number followed by s, m, h or d, e.g. 15m"
        case .unknownFormat(let name, let known):
            let list = known.isEmpty ? "none is defined" : "defined: " + known.joined(separator: ", ")
            return "access_log uses log_format '\(name)', which is not defined (\(list)); define it or use combined"
        }
    }
}

extension LogStart {
    /// Reads a look-back such as `90s`, `15m`, `2h` or `1d` (a bare number is seconds) into seconds.
    public static func lookBackSeconds(_ text: String) throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let last = trimmed.last else { throw LogWiringError.badDuration(text) }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        let (digits, unit) = last.isNumber ? (Substring(trimmed), Int64(1)) : (trimmed.dropLast(), units[last] ?? 0)
        guard unit > 0, let value = Int64(digits), value >= 0, value <= Int64.max / unit else {
            throw LogWiringError.badDuration(text)
        }
        return value * unit
    }
}

extension LogFormat {
    /// The format an `access_log PATH [FORMAT]` directive names among the configuration's `log_format`s:
    /// `combined` when no name is given (or when it is `combined` and not redefined).
    public static func named(_ name: String?, in formats: [LogFormat]) throws -> LogFormat {
        guard let name, name != "combined" || formats.contains(where: { $0.name == "combined" }) else { return .combined }
        guard let format = formats.first(where: { $0.name == name }) else {
            throw LogWiringError.unknownFormat(name: name, known: formats.map(\.name))
        }
        return format
    }
}
