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

/// Something the routing engine found wrong or unusual in the config, with where and what to do.
public struct Problem: Sendable, Equatable, Codable, CustomStringConvertible {
    public var severity: Severity
    public var message: String
    public var location: SourceLocation

    public init(_ severity: Severity, _ message: String, at location: SourceLocation) {
        self.severity = severity
        self.message = message
        self.location = location
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
        guard !s.isEmpty else { return nil }
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
}

/// A reusable percentage group: one `split_clients` block.
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

    /// The variable without `$` (e.g. `group3_routing`): the group's name in the CLI and JSON.
    public var name: String { variable.hasPrefix("$") ? String(variable.dropFirst()) : variable }
}

/// One migrating endpoint: a whitelist map key with its target path and its group.
public struct Endpoint: Sendable, Equatable {
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
}

/// One `map` the pattern relies on, with where it is.
public struct MapBlock: Sendable, Equatable {
    public var source: String
    public var variable: String
    public var location: SourceLocation
    public var path: DirectivePath
    /// The entries as (key, value) pairs in order, `default` and other parameters excluded.
    public var entries: [MapEntry]
    /// The `default` value, if any.
    public var defaultValue: String?

}

/// One `KEY VALUE;` line of a map block.
public struct MapEntry: Sendable, Equatable {
    /// The key as nginx matches it (a leading backslash escape removed).
    public var key: String
    public var value: String
    public var location: SourceLocation
    public var path: DirectivePath
    /// The whitespace and comments before the entry (where Cutover's rollback marker lives).
    public var leading: String
}

/// The rollout as the config describes it: groups, endpoints, logs, and any problems found.
public struct RolloutModel: Sendable {
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
    public var logFormats: [LogFormatDefinition]

    /// The group with this variable (`$group3_routing`) or name (`group3_routing`).
    public func group(named name: String) -> Group? {
        let variable = name.hasPrefix("$") ? name : "$" + name
        return groups.first { $0.variable == variable }
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
}
