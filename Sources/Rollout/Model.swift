import NginxConfig

/// The variable names and labels that identify the traffic-split pattern in a config.
public struct RolloutNames: Sendable, Equatable, Codable {
    /// The whitelist map's output variable (`map $uri $target_path`).
    public var targetPath: String = "$target_path"
    /// The migratable flag map's output variable (`map $target_path $is_migratable`).
    public var isMigratable: String = "$is_migratable"
    /// The group-assignment map's output variable (`map $uri $split_group`).
    public var splitGroup: String = "$split_group"
    /// The routing map's output variable (`map $is_migratable $api_routing`).
    public var apiRouting: String = "$api_routing"
    /// The split_clients value that sends a request to the new service.
    public var newLabel: String = "new_service"
    /// The split_clients value that keeps a request on the current service.
    public var currentLabel: String = "current_service"

    public init() {}
}

/// Where a finding points: a file and a 1-based line (0 when unknown).
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { line > 0 ? "\(file):\(line)" : file }
}

/// How serious a problem is.
public enum Severity: String, Sendable, Codable, Comparable {
    case info, warning, error

    private var rank: Int { self == .info ? 0 : self == .warning ? 1 : 2 }
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// What kind of problem the routing engine found: the stable id `cutover check` reports it under.
///
/// Set where the problem is raised, never guessed from the message; `rejectedByNginx` says whether
/// `nginx -t` refuses a config with it (the others are departures from the migration pattern).
public enum ProblemKind: String, Sendable, Codable, CaseIterable {
    case splitMissingSemicolon = "split-missing-semicolon"
    case splitNoStar = "split-no-star"
    case splitNewNotFirst = "split-new-not-first"
    case splitZeroPercent = "split-zero-percent"
    case splitStarNotLast = "split-star-not-last"
    case splitOver100 = "split-over-100"
    case splitUnknownValue = "split-unknown-value"
    case splitInvalidPercent = "split-invalid-percent"
    case splitMalformed = "split-malformed"
    case splitDeadEntry = "split-dead-entry"
    case variableRedefined = "variable-redefined"
    case variableUnknown = "variable-unknown"
    case variableInvalid = "variable-invalid"
    case variableDuplicate = "variable-duplicate"
    case missingInWhitelist = "missing-in-whitelist"
    case missingInGroupMap = "missing-in-group-map"
    case unknownGroup = "unknown-group"
    case duplicateKey = "duplicate-key"
    case repeatedRegexKey = "repeated-regex-key"
    case duplicateMap = "duplicate-map"
    case mapSource = "map-source"
    case uriNormalisation = "uri-normalisation"
    case mapInvalidParameters = "map-invalid-parameters"
    case regexInvalid = "regex-invalid"
    case migrationLogMissing = "migration-log-missing"
    case internalLocationMissing = "internal-location-missing"
    case routingMapUnexpected = "routing-map-unexpected"
    case patternIncomplete = "pattern-incomplete"
    case formatUnknown = "format-unknown"
    case formatInvalid = "format-invalid"
    case logMissing = "log-missing"
    case configProblem = "config-problem"

    /// Whether `nginx -t` refuses a config with this problem.
    public var rejectedByNginx: Bool {
        switch self {
        case .splitZeroPercent, .splitStarNotLast, .splitOver100, .splitInvalidPercent, .splitMalformed,
             .variableUnknown, .variableInvalid, .variableDuplicate, .duplicateKey, .mapInvalidParameters, .regexInvalid:
            return true
        default:
            return false
        }
    }
}

/// Something the routing engine found wrong or unusual in the config, with where and what to do.
public struct Problem: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The problem's kind (its stable id).
    public var kind: ProblemKind
    public var severity: Severity
    public var message: String
    public var location: SourceLocation

    /// A problem of `kind`.
    public init(_ kind: ProblemKind, _ severity: Severity, _ message: String, at location: SourceLocation) {
        self.kind = kind
        self.severity = severity
        self.message = message
        self.location = location
    }

    /// A problem of the generic kind `config-problem`.
    public init(_ severity: Severity, _ message: String, at location: SourceLocation) {
        self.init(.configProblem, severity, message, at: location)
    }

    public var description: String { "\(severity.rawValue): \(location): \(message)" }
}

/// A percentage of traffic with nginx's precision of 0.01%, stored as hundredths of a percent.
public struct Percent: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Hundredths of a percent: 2500 is 25%.
    public var hundredths: Int

    public init(hundredths: Int) { self.hundredths = hundredths }

    /// Parses `25`, `25%`, `12.5`, `0.01%`; nil for more than two decimals, a sign, or junk (nginx's `ngx_atofp` rules).
    public init?(parsing text: String) {
        var s = Substring(text)
        if s.hasSuffix("%") { s = s.dropLast() }
        guard s.contains(where: { $0.isASCII && $0.isNumber }) else { return nil }  // "", "." and "%" are no percent
        var whole = 0, frac = 0, fracDigits = 0, seenDot = false
        for ch in s {
            if ch == "." {
                if seenDot { return nil }
                seenDot = true
            } else if let d = ch.wholeNumberValue, ch.isASCII {
                if seenDot {
                    fracDigits += 1
                    if fracDigits > 2 { return nil }
                    frac = frac * 10 + d
                } else {
                    whole = whole * 10 + d
                    if whole > 1_000_000 { return nil }
                }
            } else {
                return nil
            }
        }
        if fracDigits == 1 { frac *= 10 }
        self.hundredths = whole * 100 + frac
    }

    /// The value as a Double percentage (25.0 for 25%).
    public var value: Double { Double(hundredths) / 100 }

    /// The text nginx reads back: `25%`, `12.5%`, `0.25%`.
    public var nginxText: String { "\(plain)%" }

    /// The number without the percent sign, as short as possible: `25`, `12.5`, `0.25`.
    public var plain: String {
        let whole = hundredths / 100, frac = hundredths % 100
        if frac == 0 { return "\(whole)" }
        if frac % 10 == 0 { return "\(whole).\(frac / 10)" }
        return "\(whole).\(frac < 10 ? "0" : "")\(frac)"
    }

    public var description: String { nginxText }

    public static let zero = Percent(hundredths: 0)
    public static let hundred = Percent(hundredths: 10000)
    public static func < (a: Percent, b: Percent) -> Bool { a.hundredths < b.hundredths }

    public init(from decoder: Decoder) throws {
        let v = try decoder.singleValueContainer().decode(Double.self)
        hundredths = Int((v * 100).rounded())
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}

/// One entry of a `split_clients` block: a percentage (or `*`) and the value it yields.
public struct SplitEntry: Sendable, Equatable {
    /// The percentage, or nil for the `*` remainder line.
    public var percent: Percent?
    /// The raw percentage word as written (e.g. `25%` or `*`).
    public var percentText: String
    public var value: String
    public var location: SourceLocation
    /// The entry's index among the block's children.
    public var childIndex: Int = -1
}

/// A reusable percentage group: one `split_clients` block, read as nginx evaluates it.
///
/// nginx walks the entries in order with cumulative percentages; the first `*` takes whatever is left
/// (entries after it never match); with no `*`, requests past the total get an empty value. When a variable is
/// defined twice, the last definition is the one nginx uses, and it is the one held here.
public struct Group: Sendable, Equatable {
    /// The variable, with `$` (e.g. `$group3_routing`).
    public var variable: String
    /// The split key as written (e.g. `${request_id}`).
    public var key: String
    /// The share of requests the group sends to the new service.
    public var percent: Percent
    public var entries: [SplitEntry]
    public var location: SourceLocation
    /// Where the directive sits in the config tree.
    public var path: DirectivePath
    /// The percent the group had before `rollback`, when it is rolled back (from Cutover's marker comment).
    public var rolledBackFrom: Percent?
    /// The children whose value `rollback` turned from the new-service label to the current one (marker `flip=`).
    public var rollbackFlips: [Int]? = nil

    /// The variable without `$` (e.g. `group3_routing`): the group's name in the CLI and JSON.
    public var name: String { variable.hasPrefix("$") ? String(variable.dropFirst()) : variable }

    /// The share of requests that get `label`: the sum of every bucket yielding it, the `*` remainder included.
    public func share(of label: String) -> Percent {
        Percent(hundredths: SplitSemantics.share(of: label, in: entries))
    }

    /// The indices of the entries nginx can pick (up to and including the first `*`).
    public var liveEntries: Range<Int> { 0..<SplitSemantics.liveCount(entries) }
}

/// How nginx's `ngx_http_split_clients_variable` picks a bucket, as arithmetic on the entries.
public enum SplitSemantics {
    /// How many entries can match: all of them, or those up to and including the first `*`.
    public static func liveCount(_ entries: [SplitEntry]) -> Int {
        (entries.firstIndex { $0.percent == nil } ?? (entries.count - 1)) + 1
    }

    /// Hundredths of a percent of requests that get `label` (cumulative buckets, the first `*` takes the rest).
    public static func share(of label: String, in entries: [SplitEntry]) -> Int {
        var sum = 0, share = 0
        for entry in entries {
            guard let p = entry.percent else {
                if entry.value == label { share += max(0, 10000 - sum) }
                return min(share, 10000)
            }
            let width = max(0, min(p.hundredths, 10000 - sum))
            if entry.value == label { share += width }
            sum += p.hundredths
        }
        return min(share, 10000)
    }
}

/// One migrating endpoint: a whitelist map key with its target path and its group.
public struct Endpoint: Sendable, Equatable {
    /// The endpoint's identity: its map key as nginx compares it (what the journal, stats and dashboard key on).
    public var id: EndpointID
    /// The map key exactly as nginx reads it (e.g. `~^/v2/content_api/book.get_chapter_details`).
    public var pattern: String
    /// A short name: by default the key's last path segment (e.g. `book.get_chapter_details`).
    public var name: String
    /// Where the new service serves it, from the whitelist map; nil when the key is missing there.
    public var target: String?
    /// The assignment as written in the group map (e.g. `$group3_routing`), nil when missing there.
    public var assignment: String?
    /// The group's variable when the assignment names an existing group.
    public var group: String?
    /// The share the new service gets: the group's percent, 0 when rolled back or not routable.
    public var percent: Percent
    /// The whitelist map entry's location (or the group map's when missing from the whitelist).
    public var location: SourceLocation
    /// The whitelist map entry's address in the tree.
    public var targetEntryPath: DirectivePath?
    /// The group-assignment map entry's address in the tree.
    public var groupEntryPath: DirectivePath?
    /// The assignment the endpoint had before a per-endpoint rollback (from Cutover's marker comment).
    public var rolledBackFrom: String?

    /// The group's name without `$`, when it has one.
    public var groupName: String? { group.map { $0.hasPrefix("$") ? String($0.dropFirst()) : $0 } }
}

/// A `log_format` definition.
public struct LogFormatDefinition: Sendable, Equatable {
    public var name: String
    /// `default`, `json` or `none`.
    public var escape: String
    /// The template: the format's strings concatenated, as nginx does.
    public var template: String
    public var location: SourceLocation
}

/// An `access_log PATH [FORMAT [params]]` binding.
public struct AccessLogBinding: Sendable, Equatable {
    public var path: String
    /// The format name (`combined` when none is given).
    public var format: String
    /// The parameters after the format (`buffer=32k`, `gzip`, `flush=5s`, `if=...`).
    public var parameters: [String]
    public var location: SourceLocation

    /// Whether the path is no file (`off`, `syslog:…`) or is built from variables at run time.
    public var isSpecial: Bool { path == "off" || path.hasPrefix("syslog:") || path.contains("$") }

    /// Whether the path is a file path relative to nginx's prefix.
    public var isRelative: Bool { !isSpecial && !path.hasPrefix("/") }
}

/// One `map` the pattern relies on, with where it is.
public struct MapBlock: Sendable, Equatable {
    public var source: String
    public var variable: String
    public var location: SourceLocation
    public var path: DirectivePath
    /// The entries as (key, value) pairs in order, `default` and other parameters excluded, entries of files
    /// an `include` inside the block pulls in read in place.
    public var entries: [MapEntry]
    /// The `default` value, if any.
    public var defaultValue: String?

}

/// One `KEY VALUE;` line of a map block.
public struct MapEntry: Sendable, Equatable {
    /// The key, parsed once.
    public var mapKey: MapKey
    /// The key as nginx matches it (a leading backslash escape removed).
    public var key: String
    public var value: String
    public var location: SourceLocation
    public var path: DirectivePath
    /// The whitespace and comments before the entry (where Cutover's rollback marker lives).
    public var leading: String
}

/// The rollout as the config describes it: groups, endpoints, logs, and any problems found.
public struct RolloutModel: Sendable, Equatable {
    public var names: RolloutNames
    public var groups: [Group]
    public var endpoints: [Endpoint]
    public var problems: [Problem]
    public var whitelistMap: MapBlock?
    public var flagMap: MapBlock?
    public var groupMap: MapBlock?
    public var routingMap: MapBlock?
    /// The location that sends migrated requests into the internal new-service location.
    public var routingLocation: SourceLocation?
    /// The internal location's URI (e.g. `/internal_new_service_proxy`).
    public var internalLocation: String?
    public var internalLocationSource: SourceLocation?
    /// The internal location's `access_log`: the migration log.
    public var migrationLog: AccessLogBinding?
    /// The server- or http-level `access_log`: the main log.
    public var mainLog: AccessLogBinding?
    /// The `access_log syslog:...` directives beside the main log (its level's), shipping it to a syslog listener.
    public var mainSyslogLogs: [AccessLogBinding] = []
    /// The `access_log syslog:...` directives of the internal location, shipping the migration log.
    public var migrationSyslogLogs: [AccessLogBinding] = []
    public var logFormats: [LogFormatDefinition]
    /// Every variable the config defines in the http context (lowercase, without `$`): map, split_clients,
    /// geo, set, perl_set/js_set outputs and named regex captures.
    public var definedVariables: Set<String> = []

    /// The group with this variable (`$group3_routing`) or name (`group3_routing`); nginx's variable names
    /// are case-insensitive.
    public func group(named name: String) -> Group? {
        let variable = MapKey.asciiLowercased(name.hasPrefix("$") ? name : "$" + name)
        return groups.first { MapKey.asciiLowercased($0.variable) == variable }
    }

    /// Whether a variable called `name` (with or without `$`) exists: nginx provides it or the config defines it.
    public func variableExists(_ name: String) -> Bool {
        let bare = MapKey.asciiLowercased(name.hasPrefix("$") ? String(name.dropFirst()) : name)
        return definedVariables.contains(bare) || NginxVariables.isProvided(bare)
    }

    /// The endpoints assigned to the group with this variable.
    public func members(of group: Group) -> [Endpoint] {
        endpoints.filter { $0.group == group.variable }
    }

    /// The format definition called `name`, including nginx's predefined `combined`.
    public func logFormat(named name: String) -> LogFormatDefinition? {
        if let f = logFormats.last(where: { $0.name == name }) { return f }
        if name == "combined" {
            return LogFormatDefinition(
                name: "combined", escape: "default",
                template: "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"",
                location: SourceLocation(file: "(nginx built-in)", line: 0))
        }
        return nil
    }

    /// Whether the main or the migration log is named by a path relative to nginx's prefix (which then must be
    /// known to find the file).
    public var namesRelativeLogs: Bool { mainLog?.isRelative == true || migrationLog?.isRelative == true }
}
