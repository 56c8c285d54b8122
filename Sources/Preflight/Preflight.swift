import Apply
import Foundation
import NginxConfig
import Rollout

/// What `cutover check` looks at besides the config: log files, the nginx commands, pid file and journal.
public struct PreflightInputs: Sendable {
    /// Main log files to read (from `--main-log`/settings); empty means the config's main `access_log`.
    public var mainLogs: [String]
    /// Migration log files to read (from `--migration-log`/settings); empty means the internal location's `access_log`.
    public var migrationLogs: [String]
    /// The nginx binary (a name on PATH or a path).
    public var nginxBinary: String
    /// The validate argv; empty means `NGINX -t -c MAIN_CONFIG`.
    public var validateCommand: [String]
    /// The reload argv; empty means `NGINX -s reload`. Only inspected, never run.
    public var reloadCommand: [String]
    /// The master's pid file; nil means the config's `pid` directive, else `/run/nginx.pid`.
    public var pidFile: String?
    /// Cutover's journal file; nil skips the journal check.
    public var journal: String?
    /// The longest any command may run.
    public var commandTimeout: Duration
    /// How many of the last lines of each log the malformed-line rate is computed over.
    public var tailLines: Int
    /// The malformed-line share above which `malformed-rate` is reported (0.01 is 1%).
    public var malformedThreshold: Double
    /// How long a log may go without growing while nginx is up before `log-stale` is reported.
    public var staleAfter: TimeInterval
    /// Whether to run the environment checks (nginx binary, privileges, files); off for config-only checks.
    public var checkEnvironment: Bool
    /// The `ADDR:PORT` of Cutover's syslog listener (`logs.syslog`); nil when logs come from files only.
    public var syslog: String?

    /// Creates inputs; every default matches `cutover check` without options.
    public init(mainLogs: [String] = [], migrationLogs: [String] = [], nginxBinary: String = "nginx",
                validateCommand: [String] = [], reloadCommand: [String] = [], pidFile: String? = nil,
                journal: String? = nil, commandTimeout: Duration = .seconds(10), tailLines: Int = 10_000,
                malformedThreshold: Double = 0.01, staleAfter: TimeInterval = 3600, checkEnvironment: Bool = true,
                syslog: String? = nil) {
        self.syslog = syslog
        self.mainLogs = mainLogs
        self.migrationLogs = migrationLogs
        self.nginxBinary = nginxBinary
        self.validateCommand = validateCommand
        self.reloadCommand = reloadCommand
        self.pidFile = pidFile
        self.journal = journal
        self.commandTimeout = commandTimeout
        self.tailLines = tailLines
        self.malformedThreshold = malformedThreshold
        self.staleAfter = staleAfter
        self.checkEnvironment = checkEnvironment
    }
}

/// The checks behind `cutover check`: what would make a rollout lie or fail, found before it starts.
public enum Preflight {
    /// Runs every check and returns the findings, errors first, then warnings, then info, each in file and line order.
    public static func run(config: ConfigSet, model: RolloutModel, inputs: PreflightInputs = PreflightInputs(),
                           probe: PreflightProbe) -> [Finding] {
        let nginx = NginxState.read(config: config, inputs: inputs, probe: probe)
        let logs = LogChecks(config: config, model: model, inputs: inputs, probe: probe, nginx: nginx).run()
        let own = ConfigChecks(config: config, model: model).run(logPaths: logs.paths)
        var findings = own
        findings += ProblemMapping.findings(from: model, excluding: own)
        findings += logs.findings
        findings += SyslogChecks.findings(model: model, listen: inputs.syslog)
        if inputs.checkEnvironment {
            findings += EnvironmentChecks(config: config, model: model, inputs: inputs, probe: probe, nginx: nginx).run()
        }
        return sorted(findings)
    }

    /// The findings in report order: severity (errors first), then file, line and id.
    public static func sorted(_ findings: [Finding]) -> [Finding] {
        findings.enumerated().sorted { a, b in
            if a.element.severity != b.element.severity { return a.element.severity > b.element.severity }
            let fa = a.element.file ?? "", fb = b.element.file ?? ""
            if fa != fb { return fa < fb }
            let la = a.element.line ?? 0, lb = b.element.line ?? 0
            if la != lb { return la < lb }
            return a.offset < b.offset
        }.map(\.element)
    }
}

/// Gives the routing engine's own problems (Discovery and `SplitRules`) their stable preflight ids.
enum ProblemMapping {
    /// The id for a problem the routing engine reported: its kind, set where it was raised.
    static func id(for problem: Problem) -> FindingID {
        FindingID(problem.kind)
    }

    /// What to do for a mapped problem when its message does not already end in an instruction.
    static func fix(for id: FindingID, problem: Problem, names: RolloutNames) -> String? {
        switch id {
        case .splitMissingSemicolon:
            return "end each entry with `;` on its own line: `25% \"\(names.newLabel)\";` then `* \"\(names.currentLabel)\";`"
        case .splitNoStar:
            return "add `* \"\(names.currentLabel)\";` as the block's last line"
        case .splitNewNotFirst:
            return "put `P% \"\(names.newLabel)\";` first and `* \"\(names.currentLabel)\";` last"
        case .patternIncomplete:
            // The snippet the problem carries is what to add (never cut out of the message text).
            return problem.expected.map { "add " + $0 }
        case .splitZeroPercent:
            return "remove the 0% line: a group at 0% is its `* \"\(names.currentLabel)\";` line alone"
        case .splitStarNotLast:
            return "move `* \"\(names.currentLabel)\";` to the end of the block"
        case .splitOver100:
            return "lower the percentages so they add up to at most 100%"
        case .splitInvalidPercent:
            return "write the percentage like `25%` or `12.5%` (at most two decimals, with `%`)"
        case .splitMalformed:
            return "`split_clients \"${request_id}\" $groupN_routing { 1% \"\(names.newLabel)\"; * \"\(names.currentLabel)\"; }`"
        case .splitUnknownValue:
            return "use `\"\(names.newLabel)\"` or `\"\(names.currentLabel)\"` as the value"
        case .routingMapUnexpected:
            return "`map \(names.isMigratable) \(names.apiRouting) { 0 \"\(names.currentLabel)\"; 1 \(names.splitGroup); }`"
        case .missingInWhitelist:
            return "add the key to `map $uri \(names.targetPath)` with its target path, or remove it from \(names.splitGroup)"
        case .missingInGroupMap:
            return "add the key to `map $uri \(names.splitGroup)` with a group (`KEY \"$group1_routing\";`)"
        case .unknownGroup:
            return "create the group (`split_clients \"${request_id}\" $groupN_routing { 1% \"\(names.newLabel)\"; * \"\(names.currentLabel)\"; }`) or assign an existing one"
        case .migrationLogMissing:
            return "add `access_log /var/log/nginx/migration_traffic.log timed;` inside the internal location"
        default:
            return nil
        }
    }

    /// Words that start the advice part of a routing-engine message ("...; add it", "... — remove one").
    static let adviceVerbs = ["add", "remove", "rename", "put", "create", "lower", "write", "keep", "fix", "assign", "raise", "use", "convert"]

    /// Splits "what is wrong; what to do" at the last separator followed by an instruction; no advice when there is none.
    static func split(_ message: String) -> (message: String, fix: String?) {
        for separator in ["; ", " — "] {
            guard let range = message.range(of: separator, options: .backwards) else { continue }
            let advice = String(message[range.upperBound...])
            let first = advice.prefix { $0.isLetter }.lowercased()
            if adviceVerbs.contains(first) {
                return (String(message[..<range.lowerBound]), advice)
            }
        }
        return (message, nil)
    }

    /// The model's problems as findings, minus those a preflight check already reports with more detail
    /// (same id family and location).
    static func findings(from model: RolloutModel, excluding own: [Finding]) -> [Finding] {
        var out: [Finding] = []
        for problem in model.problems {
            let id = self.id(for: problem)
            if own.contains(where: { $0.kind == id && $0.location == problem.location }) { continue }
            if id == .migrationLogMissing, own.contains(where: { $0.kind == id }) { continue }
            let (message, advice) = split(problem.message)
            out.append(Finding(id, problem.severity, message, at: problem.location,
                               fix: fix(for: id, problem: problem, names: model.names) ?? advice))
        }
        return out
    }
}
