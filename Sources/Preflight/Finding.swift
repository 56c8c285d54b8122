import Foundation
import NginxConfig
import Rollout

/// The stable id of a finding (kebab-case in reports and JSON; the README lists them): one case per check of
/// `cutover check`, and one per kind of problem the routing engine raises (`ProblemKind`, same text).
public enum FindingID: String, Sendable, CaseIterable, Comparable {
    case configProblem = "config-problem"
    case configUnreadable = "config-unreadable"
    case configUnwritable = "config-unwritable"
    case duplicateKey = "duplicate-key"
    case duplicateMap = "duplicate-map"
    case formatInvalid = "format-invalid"
    case formatNoPath = "format-no-path"
    case formatNoRequestTime = "format-no-request-time"
    case formatUnknown = "format-unknown"
    case hostDrift = "host-drift"
    case hostUnreachable = "host-unreachable"
    case internalLocationMissing = "internal-location-missing"
    case journalUnwritable = "journal-unwritable"
    case jsonListUnquoted = "json-list-unquoted"
    case logBuffered = "log-buffered"
    case logMissing = "log-missing"
    case logStale = "log-stale"
    case logUnreadable = "log-unreadable"
    case mainLogMismatch = "main-log-mismatch"
    case malformedRate = "malformed-rate"
    case mapInvalidParameters = "map-invalid-parameters"
    case mapSource = "map-source"
    case migrationLogMissing = "migration-log-missing"
    case missingInGroupMap = "missing-in-group-map"
    case missingInWhitelist = "missing-in-whitelist"
    case nginxMissing = "nginx-missing"
    case nginxNotRunning = "nginx-not-running"
    case nginxVersion = "nginx-version"
    case noPrivileges = "no-privileges"
    case patternIncomplete = "pattern-incomplete"
    case queryDropped = "query-dropped"
    case queryDuplicated = "query-duplicated"
    case regexInvalid = "regex-invalid"
    case repeatedRegexKey = "repeated-regex-key"
    case routingMapUnexpected = "routing-map-unexpected"
    case shadowedKey = "shadowed-key"
    case splitDeadEntry = "split-dead-entry"
    case splitInvalidPercent = "split-invalid-percent"
    case splitKeyPerRequest = "split-key-per-request"
    case splitMalformed = "split-malformed"
    case splitMissingSemicolon = "split-missing-semicolon"
    case splitNewNotFirst = "split-new-not-first"
    case splitNoStar = "split-no-star"
    case splitOver100 = "split-over-100"
    case splitStarNotLast = "split-star-not-last"
    case splitUnknownValue = "split-unknown-value"
    case splitZeroPercent = "split-zero-percent"
    case syslogNotShipped = "syslog-not-shipped"
    case targetDropsCapture = "target-drops-capture"
    case targetHasQuery = "target-has-query"
    case unanchoredKey = "unanchored-key"
    case unescapedDot = "unescaped-dot"
    case unknownGroup = "unknown-group"
    case unusedGroup = "unused-group"
    case uriNormalisation = "uri-normalisation"
    case validateFailed = "validate-failed"
    case variableDuplicate = "variable-duplicate"
    case variableInvalid = "variable-invalid"
    case variableRedefined = "variable-redefined"
    case variableUnknown = "variable-unknown"

    /// The id a routing-engine problem of `kind` is reported under.
    public init(_ kind: ProblemKind) {
        self = FindingID(rawValue: kind.rawValue) ?? .configProblem
    }

    public static func < (a: FindingID, b: FindingID) -> Bool { a.rawValue < b.rawValue }
}

/// One thing `cutover check` found: a stable id, how serious it is, where, what is wrong and how to fix it.
public struct Finding: Sendable, Equatable, CustomStringConvertible {
    /// What was found, set where the check raises it.
    public var kind: FindingID
    /// The stable kebab-case id (e.g. `unescaped-dot`); the README lists them.
    public var id: String { kind.rawValue }
    /// Error (the rollout would fail or lie), warning (it may), or info (worth knowing, never counted).
    public var severity: Severity
    /// What is wrong, in one sentence or two.
    public var message: String
    /// The file and line the finding points at; nil when it is about the environment as a whole.
    public var location: SourceLocation?
    /// What to do about it, with a literal config snippet where one helps; nil when there is nothing to do.
    public var fix: String?

    /// Creates a finding.
    public init(_ kind: FindingID, _ severity: Severity, _ message: String, at location: SourceLocation?, fix: String? = nil) {
        self.kind = kind
        self.severity = severity
        self.message = message
        self.location = location
        self.fix = fix
    }

    /// The file, or nil when unknown.
    public var file: String? { location.map(\.file) }
    /// The 1-based line, or nil when unknown (or 0).
    public var line: Int? { location.flatMap { $0.line > 0 ? $0.line : nil } }

    public var description: String { PreflightReport.line(self) }
}

/// Renders findings as text lines or JSON and turns them into the process exit code.
public enum PreflightReport {
    /// The exit code of `cutover check`: 0 when nothing counts, 1 for warnings only, 2 when any error; info never counts.
    public static func exitCode(_ findings: [Finding]) -> Int32 {
        if findings.contains(where: { $0.severity == .error }) { return 2 }
        if findings.contains(where: { $0.severity == .warning }) { return 1 }
        return 0
    }

    /// One finding on one line: `severity file:line [id] message — fix: ...`.
    public static func line(_ finding: Finding) -> String {
        var out = finding.severity.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0) + " "
        if let location = finding.location {
            out += location.description + " "
        } else {
            out += "(environment) "
        }
        out += "[\(finding.id)] " + oneLine(finding.message)
        if let fix = finding.fix { out += " — fix: " + oneLine(fix) }
        return out
    }

    /// Every finding on its own line, followed by a one-line summary (`2 errors, 1 warning, 3 info`).
    public static func text(_ findings: [Finding]) -> String {
        var lines = findings.map(line)
        lines.append(summary(findings))
        return lines.joined(separator: "\n") + "\n"
    }

    /// A one-line count of the findings by severity.
    public static func summary(_ findings: [Finding]) -> String {
        let errors = findings.filter { $0.severity == .error }.count
        let warnings = findings.filter { $0.severity == .warning }.count
        let infos = findings.filter { $0.severity == .info }.count
        if errors + warnings + infos == 0 { return "no findings" }
        return "\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s"), \(infos) info"
    }

    /// The JSON document `{"findings": [{"id", "severity", "message", "file", "line", "fix"}]}` with keys in that
    /// order and explicit nulls for unknown file, line or fix.
    public static func json(_ findings: [Finding]) -> String {
        var out = "{\"findings\": ["
        for (i, f) in findings.enumerated() {
            if i > 0 { out += ", " }
            out += "{\"id\": \(quote(f.id)), \"severity\": \(quote(f.severity.rawValue)), \"message\": \(quote(f.message)), "
            out += "\"file\": \(f.file.map(quote) ?? "null"), \"line\": \(f.line.map(String.init) ?? "null"), "
            out += "\"fix\": \(f.fix.map(quote) ?? "null")}"
        }
        out += "]}"
        return out
    }

    /// `s` as a JSON string literal.
    static func quote(_ s: String) -> String { jsonStringLiteral(s) }

    static func oneLine(_ s: String) -> String {
        s.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
    }
}
