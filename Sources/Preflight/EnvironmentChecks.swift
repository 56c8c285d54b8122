import Apply
import Foundation
import NginxConfig
import Rollout

/// Where nginx's master pid comes from and whether that process is alive.
struct NginxState: Sendable {
    /// The pid file consulted.
    var pidFile: String
    /// The pid it names, if it names one.
    var pid: Int32?
    /// What the probe says about that process.
    var process: ProcessState

    /// The pid when the master is alive.
    var livePid: Int32? { process == .gone ? nil : pid }

    static func read(config: ConfigSet, inputs: PreflightInputs, probe: PreflightProbe) -> NginxState {
        let path = inputs.pidFile ?? pidDirective(config) ?? "/run/nginx.pid"
        guard probe.access(path).readable, let bytes = try? probe.readTail(path, maxBytes: 64),
              let pid = Int32(Trivia.trimmed(String(decoding: bytes, as: UTF8.self))) else {
            return NginxState(pidFile: path, pid: nil, process: .gone)
        }
        return NginxState(pidFile: path, pid: pid, process: probe.process(pid))
    }

    /// The main-context `pid` directive of the config, if it has one.
    static func pidDirective(_ config: ConfigSet) -> String? {
        config.allDirectives().first { $0.ancestors.isEmpty && $0.directive.name.value == "pid" }?.directive.values.first
    }
}

/// The checks on the machine: the nginx binary, its version, the validate command, privileges and files.
struct EnvironmentChecks {
    let config: ConfigSet
    let model: RolloutModel
    let inputs: PreflightInputs
    let probe: PreflightProbe
    let nginx: NginxState

    func run() -> [Finding] {
        var out: [Finding] = []
        let found = binary(&out)
        if found { out += validate() }
        out += privileges()
        out += configFiles()
        out += journal()
        return out
    }

    /// Runs `nginx -v` (which prints to stderr); reports a missing binary or its version.
    func binary(_ out: inout [Finding]) -> Bool {
        let argv = [inputs.nginxBinary, "-v"]
        let result: CommandResult
        do {
            result = try probe.run(argv, timeout: inputs.commandTimeout)
        } catch {
            out.append(Finding(.nginxMissing, .error, "\(error)", at: nil,
                               fix: "install nginx or set `nginx:` in cutover.yaml to its path"))
            return false
        }
        guard result.exitCode != 127, !result.timedOut else {
            out.append(Finding(.nginxMissing, .error, "\(result.summary): \(result.message)", at: nil,
                               fix: "install nginx or set `nginx:` in cutover.yaml to its path"))
            return false
        }
        let text = result.stderr + result.stdout
        guard let range = text.range(of: "nginx/") else {
            out.append(Finding(.nginxVersion, .warning, "`\(argv.joined(separator: " "))` printed no version (`\(result.message)`)", at: nil,
                               fix: "check that \(inputs.nginxBinary) is nginx"))
            return true
        }
        let version = String(text[range.upperBound...].prefix { $0.isNumber || $0 == "." })
        let parts = version.split(separator: ".").compactMap { Int($0) }
        if parts.count >= 2, (parts[0], parts[1]) < (1, 11) {
            out.append(Finding(.nginxVersion, .warning,
                               "nginx \(version) is older than 1.11.0, which map values mixing text and captures (`\"/v2/order/$1\"`) need",
                               at: nil, fix: "upgrade nginx to 1.11.0 or later"))
        } else {
            out.append(Finding(.nginxVersion, .info, "nginx \(version) (\(inputs.nginxBinary))", at: nil))
        }
        return true
    }

    /// The validate argv: the configured one, else `nginx -t`, with `-c` when the config is a main file.
    var validateArgv: [String] {
        if !inputs.validateCommand.isEmpty { return inputs.validateCommand }
        let isMain = config.files[config.mainPath]?.children.contains { $0.name.value == "http" || $0.name.value == "events" } ?? false
        return isMain ? [inputs.nginxBinary, "-t", "-c", config.mainPath] : [inputs.nginxBinary, "-t"]
    }

    func validate() -> [Finding] {
        let argv = validateArgv
        let result: CommandResult
        do {
            result = try probe.run(argv, timeout: inputs.commandTimeout)
        } catch {
            return [Finding(.validateFailed, .error, "\(error)", at: nil, fix: "set `validate:` in cutover.yaml to a command that runs")]
        }
        guard !result.succeeded else { return [] }
        if result.message.contains("Permission denied") {
            return [Finding(.noPrivileges, .error,
                            "\(result.summary): \(result.message)",
                            at: nil, fix: "run cutover as root (sudo) or as the user nginx runs as")]
        }
        return [Finding(.validateFailed, .error, "\(result.summary): \(result.message)", at: nil,
                        fix: "fix what nginx reports before starting a rollout")]
    }

    func privileges() -> [Finding] {
        let uid = probe.effectiveUserID()
        var out: [Finding] = []
        switch nginx.process {
        case .gone:
            out.append(Finding(.nginxNotRunning, .info,
                               "no live nginx master found through \(nginx.pidFile)\(nginx.pid.map { " (pid \($0) is gone)" } ?? ""): a reload will fail and log staleness is not checked",
                               at: nil, fix: "start nginx, or set the pid file (`pid` directive or settings) Cutover should read"))
        case .notPermitted:
            if uid != 0 && !usesPrivilegedReload {
                out.append(Finding(.noPrivileges, .error,
                                   "this user (uid \(uid)) may not signal the nginx master (pid \(nginx.pid ?? 0)), so `nginx -s reload` will fail",
                                   at: nil, fix: "run cutover as root (sudo) or as the user the nginx master runs as"))
            }
        case .signalable:
            break
        }
        if uid != 0 && !usesPrivilegedReload {
            let pidAccess = probe.access(nginx.pidFile)
            if pidAccess.exists && !pidAccess.writable && nginx.process != .notPermitted {
                out.append(Finding(.noPrivileges, .warning,
                                   "this user (uid \(uid)) cannot write \(nginx.pidFile); `nginx -t` and `nginx -s reload` may be refused",
                                   at: nil, fix: "run cutover as root (sudo) or as the user the nginx master runs as"))
            }
        }
        return out
    }

    /// Whether the reload goes through a command that gains privileges itself (sudo, systemctl).
    var usesPrivilegedReload: Bool {
        guard let first = inputs.reloadCommand.first else { return false }
        let name = (first as NSString).lastPathComponent
        return ["sudo", "doas", "systemctl", "service"].contains(name)
    }

    /// The config files Cutover edits: those holding the maps and split_clients blocks.
    var editedFiles: [String] {
        var files: [String] = []
        for path in [model.whitelistMap?.location.file, model.groupMap?.location.file].compactMap({ $0 })
            + model.groups.map(\.location.file) where !files.contains(path) {
            files.append(path)
        }
        return files
    }

    func configFiles() -> [Finding] {
        var out: [Finding] = []
        for path in config.order {
            let access = probe.access(path)
            if !access.readable {
                out.append(Finding(.configUnreadable, .error, "config file \(path) is not readable by this user",
                                   at: SourceLocation(file: path, line: 0), fix: "run cutover as root (sudo) or grant read access"))
            }
        }
        for path in editedFiles {
            let access = probe.access(path)
            let directory = (path as NSString).deletingLastPathComponent
            if access.exists && !access.writable {
                out.append(Finding(.configUnwritable, .error, "config file \(path) is not writable by this user, so Cutover cannot change percentages",
                                   at: SourceLocation(file: path, line: 0), fix: "run cutover as root (sudo) or as the owner of \(path)"))
            } else if !probe.access(directory.isEmpty ? "." : directory).writable {
                out.append(Finding(.configUnwritable, .error,
                                   "directory \(directory) is not writable by this user; Cutover writes a temporary file beside \(path) and renames it",
                                   at: SourceLocation(file: path, line: 0), fix: "run cutover as root (sudo) or as the owner of \(directory)"))
            }
        }
        return out
    }

    func journal() -> [Finding] {
        guard let path = inputs.journal else { return [] }
        let access = probe.access(path)
        if access.exists {
            guard access.writable && !access.isDirectory else {
                return [Finding(.journalUnwritable, .error, "the journal \(path) is \(access.isDirectory ? "a directory" : "not writable by this user")",
                                at: nil, fix: "set `journal:` in cutover.yaml to a writable file, or fix its permissions")]
            }
            return []
        }
        // The journal is created with its directories: the nearest existing ancestor must be a writable directory.
        var directory = (path as NSString).deletingLastPathComponent
        var steps = 0
        while !directory.isEmpty && directory != "/" && !probe.access(directory).exists && steps < 64 {
            directory = (directory as NSString).deletingLastPathComponent
            steps += 1
        }
        if directory.isEmpty { directory = "." }
        let ancestor = probe.access(directory)
        if !ancestor.isDirectory || !ancestor.writable {
            return [Finding(.journalUnwritable, .error,
                            "the journal \(path) cannot be created: \(directory) is \(ancestor.isDirectory ? "not writable by this user" : "not a directory")",
                            at: nil, fix: "set `journal:` in cutover.yaml to a path under a writable directory")]
        }
        return []
    }
}
