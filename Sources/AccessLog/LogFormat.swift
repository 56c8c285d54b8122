import Foundation

/// The escaping nginx applies to variable values when it writes a `log_format` line (`escape=` parameter).
public enum LogEscape: String, Sendable, Hashable, CaseIterable {
    /// `escape=default`: `"`, `\`, control bytes, 0x7F and bytes from 0x80 become `\xHH`; an unset variable is `-`.
    case `default`
    /// `escape=json`: JSON string escapes; bytes from 0x80 pass through raw; an unset variable is empty.
    case json
    /// `escape=none`: values are written as they are.
    case none

    /// Reads the value of an `escape=` parameter of `log_format` (`default`, `json` or `none`).
    public init(parameter: String) throws {
        let value = parameter.hasPrefix("escape=") ? String(parameter.dropFirst("escape=".count)) : parameter
        guard let escape = LogEscape(rawValue: value) else { throw LogFormatError.unknownEscape(value) }
        self = escape
    }
}

/// A variable of a log format whose value the parser understands; every other variable is skipped.
public enum LogVariable: String, Sendable, Hashable, CaseIterable {
    case timeLocal = "time_local"
    case timeISO8601 = "time_iso8601"
    case msec
    case request
    case requestURI = "request_uri"
    case uri
    case status
    case requestTime = "request_time"
    case upstreamResponseTime = "upstream_response_time"
    case upstreamStatus = "upstream_status"
    case upstreamAddr = "upstream_addr"
    case requestID = "request_id"
    case bodyBytesSent = "body_bytes_sent"

    /// The index of this variable in `ParsedLine`'s field table.
    @usableFromInline var slot: Int {
        switch self {
        case .timeLocal: return 0
        case .timeISO8601: return 1
        case .msec: return 2
        case .request: return 3
        case .requestURI: return 4
        case .uri: return 5
        case .status: return 6
        case .requestTime: return 7
        case .upstreamResponseTime: return 8
        case .upstreamStatus: return 9
        case .upstreamAddr: return 10
        case .requestID: return 11
        case .bodyBytesSent: return 12
        }
    }

    /// How many variables the parser understands.
    public static let slotCount = 13
}

/// An error met while compiling a `log_format` template.
public enum LogFormatError: Error, CustomStringConvertible, Equatable, Sendable {
    case emptyTemplate
    case unterminatedBrace(position: Int)
    case emptyVariableName(position: Int)
    case adjacentVariables(String, String)
    case unknownEscape(String)

    public var description: String {
        switch self {
        case .emptyTemplate:
            return "the log_format template is empty; give the format's strings as nginx.conf lists them"
        case .unterminatedBrace(let position):
            return "the log_format template has '${' without a closing '}' at character \(position); close the variable name"
        case .emptyVariableName(let position):
            return "the log_format template has '$' without a variable name at character \(position); escape or remove it"
        case .adjacentVariables(let first, let second):
            return "variables $\(first) and $\(second) follow each other with no text between them, so their values cannot be told apart in a log line; put a separator between them in log_format"
        case .unknownEscape(let value):
            return "unknown log_format escape '\(value)'; use escape=default, escape=json or escape=none"
        }
    }
}

/// A compiled nginx `log_format`: literal text alternating with variables, ready to drive a line parser.
public struct LogFormat: Sendable, Hashable {
    /// One step of the compiled format: a variable and the literal text that follows it up to the next variable.
    public struct Field: Sendable, Hashable {
        /// The variable's name as written, without `$` or braces.
        public let name: String
        /// The variable if the parser understands it, nil if its value is skipped.
        public let variable: LogVariable?
        /// The literal bytes written after the variable (empty for the last variable at the end of the line).
        public let literalAfter: [UInt8]
    }

    /// The format's name in the configuration (`combined` for the predefined one).
    public let name: String
    /// The template text: the concatenated `log_format` argument strings.
    public let template: String
    /// The escaping nginx applies to values in this format.
    public let escape: LogEscape
    /// The literal bytes before the first variable.
    public let prefix: [UInt8]
    /// The variables in order, each with the literal that follows it.
    public let fields: [Field]

    /// Compiles a template (the concatenated `log_format` strings) with its escape mode.
    public init(name: String = "custom", template: String, escape: LogEscape = .default) throws {
        self.name = name
        self.template = template
        self.escape = escape
        let bytes = Array(template.utf8)
        guard !bytes.isEmpty else { throw LogFormatError.emptyTemplate }
        var prefix: [UInt8] = []
        var fields: [Field] = []
        var pendingName: String?
        var literal: [UInt8] = []
        var index = 0
        func isNameByte(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
        }
        func flush(_ nextName: String?) throws {
            if let name = pendingName {
                if literal.isEmpty, let nextName { throw LogFormatError.adjacentVariables(name, nextName) }
                fields.append(Field(name: name, variable: LogVariable(rawValue: name), literalAfter: literal))
            } else {
                prefix = literal
            }
            literal = []
            pendingName = nextName
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "$") {
                var name = ""
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "{") {
                    guard let close = bytes[(index + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                        throw LogFormatError.unterminatedBrace(position: index)
                    }
                    name = String(decoding: bytes[(index + 2)..<close], as: UTF8.self)
                    guard !name.isEmpty else { throw LogFormatError.emptyVariableName(position: index) }
                    index = close + 1
                } else {
                    var end = index + 1
                    while end < bytes.count, isNameByte(bytes[end]) { end += 1 }
                    guard end > index + 1 else { throw LogFormatError.emptyVariableName(position: index) }
                    name = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
                    index = end
                }
                try flush(name)
            } else {
                literal.append(byte)
                index += 1
            }
        }
        try flush(nil)
        self.prefix = prefix
        self.fields = fields
    }

    /// The template of nginx's predefined `combined` format.
    public static let combinedTemplate =
        "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\""

    /// nginx's predefined `combined` format, used by `access_log PATH` when no format is named.
    public static let combined: LogFormat = {
        // The predefined template is a constant known to compile.
        (try? LogFormat(name: "combined", template: combinedTemplate, escape: .default))
            ?? LogFormat(uncheckedName: "combined")
    }()

    private init(uncheckedName: String) {
        name = uncheckedName
        template = ""
        escape = .default
        prefix = []
        fields = []
    }

    /// Whether the format writes a variable.
    public func contains(_ variable: LogVariable) -> Bool {
        fields.contains { $0.variable == variable }
    }

    /// Whether lines of this format carry a time the parser can read.
    public var hasTime: Bool { contains(.timeLocal) || contains(.timeISO8601) || contains(.msec) }

    /// Whether lines of this format carry a request path the classifier can use.
    public var hasPath: Bool { contains(.requestURI) || contains(.request) || contains(.uri) }
}
