import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the running nginx lives: its binary, prefix, main config, pid file and error log.
public struct NginxLocation: Sendable, Equatable {
    /// The nginx binary (a name looked up on PATH, or a path).
    public var binary: String
    /// The prefix (`-p`), when known.
    public var prefix: String?
    /// The main config (`-c`), absolute, when known.
    public var mainConfig: String?
    /// The master's pid file, when known.
    public var pidFile: String?
    /// The main error log, when known.
    public var errorLog: String?
    /// The build's default prefix (`--prefix` of `nginx -V`): what relative paths resolve against when
    /// nginx runs without `-p`.
    public var buildPrefix: String?

    /// Creates a location.
    public init(binary: String = "nginx", prefix: String? = nil, mainConfig: String? = nil,
                pidFile: String? = nil, errorLog: String? = nil, buildPrefix: String? = nil) {
        self.binary = binary
        self.prefix = prefix
        self.mainConfig = mainConfig
        self.pidFile = pidFile
        self.errorLog = errorLog
        self.buildPrefix = buildPrefix
    }

    /// `path` resolved as nginx resolves a relative `pid` or `error_log`: against the prefix (`-p`, else the
    /// build's default); absolute paths are returned as they are.
    public func resolve(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        let base = prefix ?? buildPrefix ?? "/"
        return (base as NSString).appendingPathComponent(path)
    }

    /// The `-p`/`-c` arguments that address this nginx.
    public var addressingArguments: [String] {
        var args: [String] = []
        if let prefix { args += ["-p", prefix] }
        if let mainConfig { args += ["-c", mainConfig] }
        return args
    }
}

/// How the pipeline checks that a reload took effect.
public enum VerifyCheck: Sendable, Equatable {
    /// The master named in the pid file is alive and has started a new generation of children.
    case newWorkers(pidFile: String)
    /// No new `[emerg]` or `[alert]` line appeared in the error log since the reload.
    case errorLog(path: String)
    /// The command exits 0.
    case command([String])
}

/// The commands that validate and reload nginx and the checks that verify a reload, with timeouts.
public struct NginxControl: Sendable, Equatable {
    /// The validation argv, e.g. `nginx -p P -c C -t`.
    public var validateArgv: [String]
    /// The main config nginx runs (`-c`), when known: a change is validated beside the live files by pointing
    /// the validate command's `-c` at a candidate main config instead.
    public var mainConfig: String?
    /// The reload argv, e.g. `nginx -p P -c C -s reload` or `systemctl reload nginx`.
    public var reloadArgv: [String]
    /// The checks run after a reload; all must pass.
    public var verify: [VerifyCheck]
    /// The longest validation may take.
    public var validateTimeout: Duration
    /// The longest the reload command may take.
    public var reloadTimeout: Duration
    /// The longest to wait for the checks to pass after a reload.
    public var verifyTimeout: Duration
    /// With only an error-log check, how long to watch the log after the reload before accepting it.
    public var errorLogSettle: Duration
    /// When set, reload by sending SIGHUP to the master named in this pid file instead of running
    /// `reloadArgv`: what `nginx -s reload` does, minus starting nginx to parse the whole config again
    /// (validation already did). Only for an nginx this process may signal (same host, same user or root).
    public var reloadSignalPidFile: String?
    /// The master's pid file: before `nginx -s ...` runs, the process it names must be an nginx master.
    public var masterPidFile: String?

    /// Creates a control from explicit commands.
    public init(validateArgv: [String], reloadArgv: [String], verify: [VerifyCheck] = [],
                validateTimeout: Duration = .seconds(30), reloadTimeout: Duration = .seconds(10),
                verifyTimeout: Duration = .seconds(5), errorLogSettle: Duration = .milliseconds(300),
                reloadSignalPidFile: String? = nil, masterPidFile: String? = nil) {
        self.validateArgv = validateArgv
        self.reloadArgv = reloadArgv
        self.verify = verify
        self.validateTimeout = validateTimeout
        self.reloadTimeout = reloadTimeout
        self.verifyTimeout = verifyTimeout
        self.errorLogSettle = errorLogSettle
        self.reloadSignalPidFile = reloadSignalPidFile
        self.masterPidFile = masterPidFile
    }

    /// The default control for a located nginx: `nginx [-p P] [-c C] -t`, `... -s reload`, and the
    /// worker-generation and error-log checks for whichever of pid file and error log are known.
    public static func standard(_ location: NginxLocation) -> NginxControl {
        let base = [location.binary] + location.addressingArguments
        var checks: [VerifyCheck] = []
        if let pid = location.pidFile { checks.append(.newWorkers(pidFile: pid)) }
        if let log = location.errorLog { checks.append(.errorLog(path: log)) }
        var control = NginxControl(validateArgv: base + ["-t"], reloadArgv: base + ["-s", "reload"], verify: checks,
                                   masterPidFile: location.pidFile)
        control.mainConfig = location.mainConfig
        return control
    }
}

extension NginxControl {
    /// The main config the validate command checks: `mainConfig` when the command names it right after a
    /// `-c`; nil when it does not (a wrapper script, a command without `-c`).
    public var validatedMainConfig: String? {
        guard let main = mainConfig, mainConfigArgument != nil else { return nil }
        return main
    }

    /// The index of the main config's path after `-c` in the validate command.
    private var mainConfigArgument: Int? {
        guard let main = mainConfig else { return nil }
        return validateArgv.indices.dropFirst().first { validateArgv[$0] == main && validateArgv[$0 - 1] == "-c" }
    }

    /// The validate command pointed at `candidate` instead of the main config; nil when the command does not
    /// name the main config after `-c` (it can only check the live files, so the change is validated in place).
    public func validateArgv(candidateMain candidate: String) -> [String]? {
        guard let index = mainConfigArgument else { return nil }
        var argv = validateArgv
        argv[index] = candidate
        return argv
    }
}

extension NginxControl {
    /// Reloads a local nginx: the reload command, or SIGHUP to the master when `reloadSignalPidFile` is set;
    /// never throws (a command that cannot start is a failed reload). The pid file's process must be an nginx
    /// master before any signal is sent or `nginx -s reload` runs (a stale pid file may name another process).
    public static func reloadLocally(_ control: NginxControl, runner: CommandRunner, clock: ApplyClock,
                                     procRoot: String = "/proc") -> CommandResult {
        let start = clock.monotonic()
        if let pidFile = control.reloadSignalPidFile {
            let argv = ["kill", "-HUP", "(master in \(pidFile))"]
            guard let pid = ProcessTable.readPid(pidFile), pid > 0 else {
                return CommandResult(argv: argv, exitCode: 1, stderr: "no nginx master pid in \(pidFile); is nginx running?",
                                     duration: clock.monotonic() - start)
            }
            if let refusal = ProcessTable.notAnNginxMaster(pid, pidFile: pidFile, procRoot: procRoot) {
                return CommandResult(argv: ["kill", "-HUP", "\(pid)"], exitCode: 1, stderr: refusal, duration: clock.monotonic() - start)
            }
            let code: Int32 = kill(pid, SIGHUP) == 0 ? 0 : 1
            let message = code == 0 ? "" : "kill -HUP \(pid): \(String(cString: strerror(errno)))"
            return CommandResult(argv: ["kill", "-HUP", "\(pid)"], exitCode: code, stderr: message,
                                 duration: clock.monotonic() - start)
        }
        if let pidFile = control.masterPidFile, control.reloadArgv.contains("-s"),
           let pid = ProcessTable.readPid(pidFile), pid > 0,
           let refusal = ProcessTable.notAnNginxMaster(pid, pidFile: pidFile, procRoot: procRoot) {
            return CommandResult(argv: control.reloadArgv, exitCode: 1, stderr: refusal + "; `nginx -s reload` was not run",
                                 duration: clock.monotonic() - start)
        }
        do {
            return try runner.run(control.reloadArgv, timeout: control.reloadTimeout)
        } catch {
            return CommandResult(argv: control.reloadArgv, exitCode: 127, stderr: "\(error)", duration: clock.monotonic() - start)
        }
    }
}

/// Finds the running nginx's prefix and main config from `nginx -V` and the master's command line.
public enum NginxDiscovery {
    /// The paths `nginx -V` reports in its configure arguments.
    public struct BuildDefaults: Sendable, Equatable {
        /// `--prefix`.
        public var prefix: String?
        /// `--conf-path`.
        public var confPath: String?
        /// `--pid-path`.
        public var pidPath: String?
        /// `--error-log-path`.
        public var errorLogPath: String?
    }

    /// Parses the `configure arguments:` line of `nginx -V` output.
    public static func parseVersionOutput(_ text: String) -> BuildDefaults {
        var defaults = BuildDefaults()
        for line in text.split(separator: "\n") where line.hasPrefix("configure arguments:") {
            for word in line.split(separator: " ") {
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "--prefix": defaults.prefix = parts[1]
                case "--conf-path": defaults.confPath = parts[1]
                case "--pid-path": defaults.pidPath = parts[1]
                case "--error-log-path": defaults.errorLogPath = parts[1]
                default: break
                }
            }
        }
        return defaults
    }

    /// Parses a master's command line (NUL-separated `/proc/PID/cmdline`, or the space-separated title
    /// `nginx: master process /usr/sbin/nginx -p P -c C` nginx rewrites it to) into its `-p` and `-c`.
    public static func parseMasterCommandLine(_ raw: [UInt8]) -> (prefix: String?, config: String?) {
        var words = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        if words.count == 1, let only = words.first {
            words = only.split(separator: " ").map(String.init)
        }
        var prefix: String?, config: String?
        var index = 0
        while index < words.count {
            let word = words[index]
            func value() -> String? {
                if word.count > 2 { return String(word.dropFirst(2)) }
                index += 1
                return index < words.count ? words[index] : nil
            }
            if word.hasPrefix("-p") { prefix = value() } else if word.hasPrefix("-c") { config = value() }
            index += 1
        }
        return (prefix, config)
    }

    /// The running nginx masters: pid, `-p` and `-c` (relative `-c` resolved against `-p`) from their command lines.
    public static func runningMasters(procRoot: String = "/proc") -> [(pid: Int32, prefix: String?, config: String?)] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: procRoot) else { return [] }
        var out: [(pid: Int32, prefix: String?, config: String?)] = []
        for entry in entries {
            guard let pid = Int32(entry), let raw = FileManager.default.contents(atPath: "\(procRoot)/\(entry)/cmdline"),
                  raw.starts(with: Array("nginx: master process".utf8)) else { continue }
            var (prefix, config) = parseMasterCommandLine(Array(raw))
            if let c = config, !c.hasPrefix("/"), let p = prefix { config = (p as NSString).appendingPathComponent(c) }
            out.append((pid, prefix, config))
        }
        return out.sorted { $0.pid < $1.pid }
    }

    /// Locates nginx: explicit values in `known` win, then the running master's command line (through
    /// the pid file), then the build defaults from `binary -V`; a relative `-c` is resolved against the prefix.
    public static func discover(known: NginxLocation = NginxLocation(), runner: CommandRunner,
                                procRoot: String = "/proc") -> NginxLocation {
        var location = known
        var defaults = BuildDefaults()
        if let result = try? runner.run([known.binary, "-V"], timeout: .seconds(5)), result.succeeded {
            defaults = parseVersionOutput(result.stderr + "\n" + result.stdout)
        }
        location.buildPrefix = location.buildPrefix ?? defaults.prefix
        if location.pidFile == nil { location.pidFile = defaults.pidPath }
        if location.errorLog == nil { location.errorLog = defaults.errorLogPath }
        var fromMaster: (prefix: String?, config: String?) = (nil, nil)
        if let pidFile = location.pidFile, let pid = ProcessTable.readPid(pidFile),
           let cmdline = FileManager.default.contents(atPath: "\(procRoot)/\(pid)/cmdline") {
            fromMaster = parseMasterCommandLine(Array(cmdline))
        }
        if location.prefix == nil { location.prefix = fromMaster.prefix }
        if location.mainConfig == nil {
            location.mainConfig = fromMaster.config ?? defaults.confPath
        }
        if let config = location.mainConfig, !config.hasPrefix("/") {
            let base = location.prefix ?? defaults.prefix ?? "/"
            location.mainConfig = (base as NSString).appendingPathComponent(config)
        }
        return location
    }
}

/// Reads process facts from /proc: pid files, liveness and children.
public enum ProcessTable {
    /// The pid in a pid file, or nil when it is missing or unreadable.
    public static func readPid(_ pidFile: String) -> Int32? {
        guard let data = FileManager.default.contents(atPath: pidFile) else { return nil }
        return Int32(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Why `pid` (read from `pidFile`) must not be signalled as nginx's master, or nil when it is one: its
    /// `/proc/PID/exe` must be an nginx binary (when readable) and its command line nginx's master title.
    public static func notAnNginxMaster(_ pid: Int32, pidFile: String, procRoot: String = "/proc") -> String? {
        let stale = "the pid file \(pidFile) names process \(pid)"
        guard let raw = FileManager.default.contents(atPath: "\(procRoot)/\(pid)/cmdline") else {
            return "\(stale), which is not running: nginx is not running, or the pid file is stale; start nginx or fix the `pid` directive"
        }
        let words = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        let commandLine = words.joined(separator: " ")
        var exe: String?
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(procRoot)/\(pid)/exe") {
            exe = target.hasSuffix(" (deleted)") ? String(target.dropLast(10)) : target
        }
        let exeIsNginx = exe.map { ($0 as NSString).lastPathComponent.hasPrefix("nginx") } ?? true
        let isMaster = commandLine.hasPrefix("nginx: master process")
        if exeIsNginx && isMaster { return nil }
        let what = String((exe ?? words.first ?? "?").prefix(200))
        return "\(stale) (\(what): `\(String(commandLine.prefix(120)))`), which is not an nginx master: the pid file is stale; "
            + "Cutover sends no signal to it. Check that nginx runs and that its `pid` directive names this file"
    }

    /// Whether `pid` is a live (not zombie) process.
    public static func isAlive(_ pid: Int32, procRoot: String = "/proc") -> Bool {
        guard let stat = FileManager.default.contents(atPath: "\(procRoot)/\(pid)/stat") else { return false }
        guard let fields = statFields(stat) else { return false }
        return fields.state != "Z" && fields.state != "X"
    }

    /// The pids of the live children of `parent`.
    public static func children(of parent: Int32, procRoot: String = "/proc") -> Set<Int32> {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: procRoot) else { return [] }
        var out = Set<Int32>()
        for entry in entries {
            guard let pid = Int32(entry),
                  let stat = FileManager.default.contents(atPath: "\(procRoot)/\(entry)/stat"),
                  let fields = statFields(stat) else { continue }
            if fields.ppid == parent && fields.state != "Z" { out.insert(pid) }
        }
        return out
    }

    static func statFields(_ data: Data) -> (state: Character, ppid: Int32)? {
        // "pid (comm) S ppid ..." — comm may contain spaces and parentheses, so split after the last ')'.
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let rest = text[text.index(after: close)...].split(separator: " ")
        guard rest.count >= 2, let state = rest[0].first, let ppid = Int32(rest[1]) else { return nil }
        return (state, ppid)
    }
}
