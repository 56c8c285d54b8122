import AccessLog
import Foundation
import NginxConfig
import Rollout

/// One log file the checks read, with the role and format binding it belongs to.
struct LogFile: Sendable {
    var path: String
    var role: LogRole
    var binding: AccessLogBinding?
}

/// What the log checks found, and the request paths seen in the files (for the key checks).
struct LogOutcome: Sendable {
    var findings: [Finding]
    var paths: [String]
}

/// The checks on log formats, access_log bindings and the log files themselves.
struct LogChecks {
    let config: ConfigSet
    let model: RolloutModel
    let inputs: PreflightInputs
    let probe: PreflightProbe
    let nginx: NginxState

    /// Variables whose value is a comma- or colon-separated list when a request tried several upstreams.
    static let listVariables = ["upstream_response_time", "upstream_connect_time", "upstream_header_time",
                                "upstream_status", "upstream_addr", "upstream_bytes_received", "upstream_bytes_sent",
                                "upstream_cache_status"]

    /// The most distinct paths kept from the logs.
    static let maxPaths = 5000

    static let timedFormat = "log_format timed '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time $upstream_response_time $request_id';"

    var files: [LogFile] {
        var out: [LogFile] = []
        func add(_ overrides: [String], _ binding: AccessLogBinding?, _ role: LogRole) {
            if !overrides.isEmpty {
                out += overrides.map { LogFile(path: $0, role: role, binding: binding) }
            } else if let binding, binding.path != "off", !binding.path.contains("$"), !binding.path.hasPrefix("syslog:") {
                out.append(LogFile(path: binding.path, role: role, binding: binding))
            }
        }
        add(inputs.mainLogs, model.mainLog, .main)
        add(inputs.migrationLogs, model.migrationLog, .migration)
        return out
    }

    func run() -> LogOutcome {
        var findings: [Finding] = []
        var compiled: [String: LogFormat] = [:]
        var checkedFormats: Set<String> = []
        for binding in [model.mainLog, model.migrationLog].compactMap({ $0 }) {
            findings += bindingFindings(binding)
            guard binding.path != "off" else { continue }
            guard let definition = model.logFormat(named: binding.format) else {
                findings.append(Finding(.formatUnknown, .error,
                                        "access_log \(binding.path) names the format `\(binding.format)`, which no log_format defines",
                                        at: binding.location, fix: "define it: `\(Self.timedFormat)` and write `access_log \(binding.path) timed;`"))
                continue
            }
            guard checkedFormats.insert(definition.name).inserted else { continue }
            let at = definition.location.line > 0 ? definition.location : binding.location
            let format: LogFormat
            do {
                format = try LogFormat(name: definition.name, template: definition.template,
                                       escape: try LogEscape(parameter: definition.escape))
            } catch {
                findings.append(Finding(.formatInvalid, .error, "log_format \(definition.name) cannot be read: \(error)", at: at,
                                        fix: "fix the format, e.g. `\(Self.timedFormat)`"))
                continue
            }
            compiled[definition.name] = format
            findings += formatFindings(definition, format: format, at: at)
        }
        if let migration = model.migrationLog, migration.path == "off" {
            findings.append(Finding(.migrationLogMissing, .warning,
                                    "the internal location turns its access_log off, so there is no migration log to read",
                                    at: migration.location,
                                    fix: "`access_log /var/log/nginx/migration_traffic.log timed;` inside the internal location"))
        }
        findings += readsOtherFiles()
        var paths: [String] = []
        var pathSet: Set<String> = []
        for file in files {
            let name = file.binding?.format ?? "combined"
            var format = compiled[name]
            if format == nil, let definition = model.logFormat(named: name) {
                format = try? LogFormat(name: definition.name, template: definition.template,
                                        escape: (try? LogEscape(parameter: definition.escape)) ?? .default)
            }
            findings += fileFindings(file, format: format ?? LogFormat.combined, paths: &paths, pathSet: &pathSet)
        }
        return LogOutcome(findings: findings, paths: paths)
    }

    /// Log files given on the command line that the config's access_log directives do not write.
    func readsOtherFiles() -> [Finding] {
        var out: [Finding] = []
        if let binding = model.migrationLog, binding.path != "off", !binding.path.contains("$"),
           !inputs.migrationLogs.isEmpty, !inputs.migrationLogs.contains(binding.path) {
            out.append(Finding(.migrationLogMissing, .warning,
                               "the migration log read (\(inputs.migrationLogs.joined(separator: ", "))) is not the file the internal location writes (\(binding.path)), so the migration figures stay empty or stale",
                               at: binding.location, fix: "pass `--migration-log \(binding.path)`, or write `access_log \(inputs.migrationLogs[0]) \(binding.format);` in the internal location"))
        }
        if let binding = model.mainLog, binding.path != "off", !binding.path.contains("$"),
           !inputs.mainLogs.isEmpty, !inputs.mainLogs.contains(binding.path) {
            out.append(Finding(.mainLogMismatch, .warning,
                               "the main log read (\(inputs.mainLogs.joined(separator: ", "))) is not the file the routing server writes (\(binding.path))",
                               at: binding.location, fix: "pass `--main-log \(binding.path)`, or check that another server writes the file given"))
        }
        return out
    }

    func bindingFindings(_ binding: AccessLogBinding) -> [Finding] {
        let delaying = binding.parameters.filter { $0.hasPrefix("buffer=") || $0.hasPrefix("flush=") || $0 == "gzip" || $0.hasPrefix("gzip=") }
        guard !delaying.isEmpty else { return [] }
        let kept = binding.parameters.filter { !delaying.contains($0) }
        let snippet = (["access_log", binding.path, binding.format] + kept).joined(separator: " ") + ";"
        return [Finding(.logBuffered, .warning,
                        "access_log \(binding.path) uses \(delaying.map { "`\($0)`" }.joined(separator: ", ")): lines reach the file late\(delaying.contains { $0.hasPrefix("gzip") } ? " and compressed, so they cannot be followed at all" : ", so the dashboard lags behind the traffic")",
                        at: binding.location, fix: "`\(snippet)`")]
    }

    func formatFindings(_ definition: LogFormatDefinition, format: LogFormat, at: SourceLocation) -> [Finding] {
        var out: [Finding] = []
        if !format.contains(.requestTime) {
            out.append(Finding(.formatNoRequestTime, .warning,
                               "log_format \(definition.name) has no `$request_time`, so the latency columns stay empty",
                               at: at, fix: "add `$request_time $upstream_response_time`, e.g. `\(Self.timedFormat)`"))
        }
        if !format.hasPath {
            out.append(Finding(.formatNoPath, .error,
                               "log_format \(definition.name) writes no request path (`$request`, `$request_uri` or `$uri`), so no line can be attributed to an endpoint",
                               at: at, fix: "add `\"$request\"` or `$request_uri`, e.g. `\(Self.timedFormat)`"))
        }
        let looksJSON = format.escape == .json || Trivia.trimmed(definition.template).hasPrefix("{")
        if looksJSON {
            let template = Array(definition.template)
            for name in Self.listVariables {
                for (start, end) in Self.occurrences(of: name, in: template) {
                    let before = start > 0 ? template[start - 1] : " "
                    let after = end < template.count ? template[end] : " "
                    if before == "\"" && after == "\"" { continue }
                    out.append(Finding(.jsonListUnquoted, .error,
                                       "log_format \(definition.name) writes `$\(name)` unquoted in JSON: when a request tries two upstreams its value is a list like `0.004, 0.012`, and the line is not valid JSON",
                                       at: at, fix: "quote it: `\"\(name)\":\"$\(name)\"`"))
                    break
                }
            }
        }
        return out
    }

    /// The ranges (start of `$`, end after the name or `}`) where `$name` or `${name}` occurs as a whole variable.
    static func occurrences(of name: String, in template: [Character]) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        let nameChars = Array(name)
        var i = 0
        while i < template.count {
            guard template[i] == "$" else { i += 1; continue }
            var j = i + 1
            let braced = j < template.count && template[j] == "{"
            if braced { j += 1 }
            var k = j
            while k < template.count, template[k].isLetter || template[k].isNumber || template[k] == "_" { k += 1 }
            if Array(template[j..<k]) == nameChars {
                var end = k
                if braced {
                    guard end < template.count, template[end] == "}" else { i = k; continue }
                    end += 1
                }
                out.append((i, end))
            }
            i = max(k, i + 1)
        }
        return out
    }

    func fileFindings(_ file: LogFile, format: LogFormat, paths: inout [String], pathSet: inout Set<String>) -> [Finding] {
        let at = SourceLocation(file: file.path, line: 0)
        let access = probe.access(file.path)
        let option = file.role == .main ? "--main-log" : "--migration-log"
        guard access.exists else {
            return [Finding(.logMissing, .warning,
                            "the \(file.role.rawValue) log \(file.path) does not exist (nginx creates it at the first request it logs)",
                            at: at, fix: "point \(option) at the file nginx writes, or send a request and check again")]
        }
        guard access.readable, !access.isDirectory else {
            return [Finding(.logUnreadable, .error,
                            "the \(file.role.rawValue) log \(file.path) is \(access.isDirectory ? "a directory" : "not readable by this user")",
                            at: at, fix: "run as a user who can read it (e.g. in the `adm` group), or fix \(option)")]
        }
        var out: [Finding] = []
        let status = probe.status(file.path)
        var tail: [UInt8]
        do {
            tail = try readTail(file.path, size: status?.size)
        } catch {
            return [Finding(.logUnreadable, .error, "\(error)", at: at, fix: "fix the permissions or \(option)")]
        }
        var lines = tail.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if let last = lines.last, last.isEmpty { lines.removeLast() }
        // A tail that starts mid-file starts mid-line: drop that partial line.
        if let status, Int64(tail.count) < status.size, !lines.isEmpty { lines.removeFirst() }
        let recent = lines.suffix(max(1, inputs.tailLines))
        let parser = LogLineParser(format: format)
        var malformed = 0
        var firstBad: String?
        for line in recent {
            var ok = false
            line.withUnsafeBytes { raw in
                ok = parser.parse(raw)
                guard ok, paths.count < Self.maxPaths, let path = parser.rawPath() else { return }
                let text = String(decoding: parser.unescape(path), as: UTF8.self)
                if pathSet.insert(text).inserted { paths.append(text) }
            }
            if !ok {
                malformed += 1
                if firstBad == nil { firstBad = String(decoding: line.prefix(120), as: UTF8.self) }
            }
        }
        if !recent.isEmpty {
            let rate = Double(malformed) / Double(recent.count)
            if rate > inputs.malformedThreshold {
                let percent = String(format: "%.1f%%", rate * 100)
                out.append(Finding(.malformedRate, .warning,
                                   "\(malformed) of the last \(recent.count) lines of \(file.path) (\(percent)) do not match log_format \(format.name); the first: `\(firstBad ?? "")`",
                                   at: at,
                                   fix: "make \(option) name the file written with `\(format.name)`, or give that access_log the format Cutover reads"))
            }
        }
        if let pid = nginx.livePid, let status {
            let age = probe.now().timeIntervalSince(status.modified)
            if age > inputs.staleAfter {
                out.append(Finding(.logStale, .warning,
                                   "\(file.path) has not grown for \(Self.duration(age)) while nginx (pid \(pid)) is up: nginx writes elsewhere, kept the rotated file open, or no traffic reaches this log",
                                   at: at,
                                   fix: "run `nginx -s reopen` after rotating logs, and check that \(option) names the file in the access_log directive"))
            }
        }
        return out
    }

    /// The most bytes read from the end of one log.
    static let maxTailBytes = 64 << 20

    /// The end of a log holding at least `tailLines` whole lines (or the whole file, or `maxTailBytes`): reads
    /// 256 bytes a line first and four times more while lines are missing.
    func readTail(_ path: String, size: Int64?) throws -> [UInt8] {
        let wanted = max(1, inputs.tailLines) + 1
        var budget = min(Self.maxTailBytes, max(4096, wanted * 256))
        var tail = try probe.readTail(path, maxBytes: budget)
        while budget < Self.maxTailBytes, Int64(tail.count) < (size ?? 0),
              tail.reduce(0, { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }) < wanted {
            budget = min(Self.maxTailBytes, budget * 4)
            tail = try probe.readTail(path, maxBytes: budget)
        }
        return tail
    }

    /// A short human duration: `3h12m`, `45m`, `30s`.
    static func duration(_ seconds: TimeInterval) -> String {
        let s = Int(seconds)
        if s >= 86400 { return "\(s / 86400)d\((s % 86400) / 3600)h" }
        if s >= 3600 { return "\(s / 3600)h\((s % 3600) / 60)m" }
        if s >= 60 { return "\(s / 60)m" }
        return "\(s)s"
    }
}
