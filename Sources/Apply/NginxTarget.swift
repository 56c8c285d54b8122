import Foundation
import NginxConfig
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How commands reach one host: the argv prefix of `hosts[].run` (`ssh ...`, `kubectl exec ... --`,
/// `nsenter ... --`, or none for this machine) and whether that prefix hands the rest to a remote shell.
///
/// `ssh` joins its remaining arguments with spaces and gives the string to the remote user's shell, so
/// every word is quoted for a POSIX shell; `kubectl exec`, `nsenter`, `docker exec` pass argv as it is, so
/// words go unquoted. Scripts Cutover runs on a host are always `sh -c SCRIPT sh ARG...` with the paths as
/// positional arguments, never spliced into the script.
public struct HostTransport: Sendable, Equatable {
    /// The argv prefix; empty means this machine.
    public var prefix: [String]
    /// Whether the prefix joins the command into one string for a remote shell (ssh does).
    public var joinsIntoShell: Bool

    /// Creates a transport; `joinsIntoShell` defaults to whether the prefix starts with `ssh`.
    public init(prefix: [String], joinsIntoShell: Bool? = nil) {
        self.prefix = prefix
        self.joinsIntoShell = joinsIntoShell ?? HostTransport.startsWithSSH(prefix)
    }

    /// This machine: commands run as they are.
    public static let local = HostTransport(prefix: [])

    /// Whether commands run on this machine.
    public var isLocal: Bool { prefix.isEmpty }

    /// Whether `prefix` runs `ssh` (by name or path).
    public static func startsWithSSH(_ prefix: [String]) -> Bool {
        guard let first = prefix.first else { return false }
        return (first as NSString).lastPathComponent == "ssh"
    }

    /// The argv that runs `command` on the host.
    public func argv(_ command: [String]) -> [String] {
        guard !prefix.isEmpty else { return command }
        if joinsIntoShell { return prefix + [command.map(HostTransport.shellQuote).joined(separator: " ")] }
        return prefix + command
    }

    /// `word` quoted for a POSIX shell: as it is when it holds only characters no shell treats specially,
    /// else in single quotes (a single quote inside written as `'\''`).
    public static func shellQuote(_ word: String) -> String {
        let plain = !word.isEmpty && word.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-_./=:,+@%".unicodeScalars.contains(scalar))
        }
        if plain { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Why an operation on a host failed: the host, what was being done and what the command said.
public struct HostError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The host's name.
    public var host: String
    /// What Cutover was doing ("read /etc/nginx/routing.conf").
    public var operation: String
    /// The command's (or the system's) own words.
    public var reason: String

    /// Creates the error.
    public init(host: String, operation: String, reason: String) {
        self.host = host
        self.operation = operation
        self.reason = reason
    }

    public var description: String {
        "\(host): could not \(operation): \(reason); check that the host is reachable with its `run` prefix and the path exists there"
    }
}

/// One nginx somewhere, resolved once in the executable: where its routing config is, how to read and
/// write its files, how to validate, reload and verify it, and how to find its master. A local target
/// (no `run` prefix) uses the direct atomic file operations; a remote one runs every step through the same
/// argv `CommandRunner` with the host's prefix (`cat` to read, a temp file beside the live one then `mv`
/// to write, which is atomic on that host).
public struct NginxTarget: Sendable {
    /// The host's name (`hosts[].name`, or this machine's name without `hosts:`).
    public var name: String
    /// How commands reach the host.
    public var transport: HostTransport
    /// The routing config's path on the host.
    public var configPath: String
    /// The directory relative includes resolve against on the host (nil: the config's directory).
    public var includePrefix: String?
    /// The validate, reload and verify commands as they run on the host (without the prefix).
    public var control: NginxControl
    /// Runs every command (the prefix added here).
    public var runner: CommandRunner
    /// How long one file operation on the host may take.
    public var fileTimeout: Duration
    /// The /proc root of local checks (tests point it elsewhere).
    public var procRoot: String

    /// Creates a target.
    public init(name: String, transport: HostTransport = .local, configPath: String, includePrefix: String? = nil,
                control: NginxControl, runner: CommandRunner = ProcessRunner(), fileTimeout: Duration = .seconds(30),
                procRoot: String = "/proc") {
        self.name = name
        self.transport = transport
        self.configPath = configPath
        self.includePrefix = includePrefix
        self.control = control
        self.runner = runner
        self.fileTimeout = fileTimeout
        self.procRoot = procRoot
    }

    /// Whether the host is this machine.
    public var isLocal: Bool { transport.isLocal }

    /// Where config files are read from: the local disk, or the host through its prefix.
    public var store: ConfigFileStore { isLocal ? LocalFileStore() : HostFileStore(target: self) }

    /// The host's routing config with everything it includes, read through `store`.
    public func loadConfig() throws -> ConfigSet {
        do {
            return try ConfigSet.load(path: configPath, prefix: includePrefix, store: store)
        } catch {
            throw HostError(host: name, operation: "read the routing config \(configPath)", reason: "\(error)")
        }
    }

    /// `path` (named as on `reference`) as the same file on this host: the same place relative to the
    /// routing config's directory, or the same absolute path when it lies outside it.
    public func path(_ path: String, from reference: NginxTarget) -> String {
        let base = AtomicFiles.directory(of: reference.configPath) + "/"
        guard path.hasPrefix(base) else { return path }
        return AtomicFiles.directory(of: configPath) + "/" + path.dropFirst(base.count)
    }

    // MARK: - Commands

    /// Runs `command` on the host (the prefix added) and returns what it did; a command that cannot start
    /// is a result with exit status 127 and the reason.
    public func run(_ command: [String], input: [UInt8]? = nil, timeout: Duration? = nil) -> CommandResult {
        let argv = transport.argv(command)
        do {
            if let input { return try runner.run(argv, input: input, timeout: timeout ?? fileTimeout) }
            return try runner.run(argv, timeout: timeout ?? fileTimeout)
        } catch {
            return CommandResult(argv: argv, exitCode: 127, stderr: "\(error)")
        }
    }

    /// Runs a fixed `sh` script on the host with `arguments` as `$1`, `$2`, ... (never spliced into it).
    func script(_ text: String, _ arguments: [String], input: [UInt8]? = nil) -> CommandResult {
        run(["sh", "-c", text, "sh"] + arguments, input: input)
    }

    func check(_ result: CommandResult, _ operation: String) throws {
        guard result.succeeded else {
            throw HostError(host: name, operation: operation, reason: result.message.isEmpty ? result.summary : result.message)
        }
    }

    // MARK: - Files

    /// The file's text (lossless, `ConfigText`).
    public func read(_ path: String) throws -> String {
        if isLocal {
            do { return try AtomicFiles.readText(path) } catch {
                throw HostError(host: name, operation: "read \(path)", reason: "\(error)")
            }
        }
        let result = run(["cat", "--", path])
        try check(result, "read \(path)")
        return ConfigText.decode(result.stdoutBytes ?? Array(result.stdout.utf8))
    }

    /// The path with every symlink resolved (what a write replaces so a link survives).
    public func resolveSymlinks(_ path: String) throws -> String {
        if isLocal { return try AtomicFiles.resolveSymlinks(path) }
        let result = script("readlink -f -- \"$1\" || printf '%s\\n' \"$1\"", [path])
        try check(result, "resolve the symlinks of \(path)")
        let resolved = result.stdout.trimmingCharacters(in: .newlines)
        return resolved.hasPrefix("/") ? resolved : path
    }

    /// Each path with its symlinks resolved, in one command on a remote host (a path that cannot be resolved
    /// is missing from the answer).
    public func resolveSymlinks(_ paths: [String]) -> [String: String] {
        guard !paths.isEmpty else { return [:] }
        if isLocal {
            var out: [String: String] = [:]
            for path in paths { if let real = try? AtomicFiles.resolveSymlinks(path) { out[path] = real } }
            return out
        }
        let result = script("for f in \"$@\"; do readlink -f -- \"$f\" || printf '\\n'; done; exit 0", paths)
        guard result.succeeded else { return [:] }
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var out: [String: String] = [:]
        for (path, real) in zip(paths, lines) where real.hasPrefix("/") { out[path] = real }
        return out
    }

    /// Writes `text` to `path`, a file of Cutover's own beside `like` (a candidate copy of it) with its owner
    /// and mode: locally durably; on a remote host through `cp -p` and `cat`.
    public func writeFile(_ path: String, text: String, like live: String) throws {
        if isLocal {
            do {
                let temp = try AtomicFiles.writeTemp(beside: live, text: text)
                do { try AtomicFiles.renameFile(temp, to: path) } catch {
                    unlink(temp)
                    throw error
                }
            } catch {
                throw HostError(host: name, operation: "write \(path)", reason: "\(error)")
            }
            return
        }
        // cp -p gives the file the original's owner and mode; cat then replaces its bytes.
        let result = script("cp -p -- \"$1\" \"$2\" && cat > \"$2\" || { rm -f -- \"$2\"; exit 1; }", [live, path],
                            input: ConfigText.encode(text))
        try check(result, "write \(path)")
    }

    /// Writes `text` to a new temp file beside `path` with the original's owner and mode; returns its path.
    public func writeBeside(_ path: String, text: String, id: String) throws -> String {
        if isLocal { return try AtomicFiles.writeTemp(beside: path, text: text) }
        let temp = NginxTarget.remoteTemp(beside: path, id: id)
        try writeFile(temp, text: text, like: path)
        return temp
    }

    /// The candidate a change `id` writes beside `path` on a remote host (a name the revert can find again).
    static func remoteTemp(beside path: String, id: String) -> String { AtomicFiles.beside(path, "tmp-" + id.prefix(8)) }

    /// Keeps the live file under `backup` (a hard link) and renames `temp` over it.
    public func swapIn(temp: String, target: String, backup: String) throws {
        if isLocal {
            try AtomicFiles.makeBackup(of: target, at: backup)
            try AtomicFiles.renameFile(temp, to: target)
            AtomicFiles.fsyncDirectory(AtomicFiles.directory(of: target))
            return
        }
        let result = script("ln -f -- \"$1\" \"$3\" && mv -f -- \"$2\" \"$1\"", [target, temp, backup])
        try check(result, "swap the candidate in over \(target)")
    }

    /// Renames `from` over `to` (atomic on the host).
    public func rename(_ from: String, to: String) throws {
        if isLocal { return try AtomicFiles.renameFile(from, to: to) }
        try check(run(["mv", "-f", "--", from, to]), "rename \(from) to \(to)")
    }

    /// Removes `path` if it is there (a leftover temp file); failures are ignored.
    public func remove(_ path: String) {
        if isLocal { unlink(path); return }
        _ = run(["rm", "-f", "--", path])
    }

    // MARK: - nginx

    /// Runs the validate command on the host.
    public func validate() -> CommandResult {
        run(control.validateArgv, timeout: control.validateTimeout)
    }

    /// Reloads nginx on the host: the reload command, or (local, when so configured) SIGHUP to the master.
    /// The pid file's process must be an nginx master before a signal or `nginx -s reload` goes to it.
    public func reload(clock: ApplyClock = .system) -> CommandResult {
        if isLocal { return NginxControl.reloadLocally(control, runner: runner, clock: clock, procRoot: procRoot) }
        if let pidFile = control.masterPidFile, control.reloadArgv.contains("-s"), case .failure(let refusal) = findMaster() {
            return CommandResult(argv: transport.argv(control.reloadArgv), exitCode: 1,
                                 stderr: refusal.reason + " (pid file \(pidFile)); `nginx -s reload` was not run")
        }
        return run(control.reloadArgv, timeout: control.reloadTimeout)
    }

    /// The host's nginx master: the pid its pid file names, checked to be an nginx master process.
    public func findMaster() -> Result<Int32, HostError> {
        guard let pidFile = control.masterPidFile ?? control.reloadSignalPidFile else {
            return .failure(HostError(host: name, operation: "find the nginx master", reason: "no pid file is known for this nginx"))
        }
        if isLocal {
            guard let pid = ProcessTable.readPid(pidFile), pid > 0 else {
                return .failure(HostError(host: name, operation: "find the nginx master", reason: "no pid in \(pidFile)"))
            }
            if let refusal = ProcessTable.notAnNginxMaster(pid, pidFile: pidFile, procRoot: procRoot) {
                return .failure(HostError(host: name, operation: "find the nginx master", reason: refusal))
            }
            return .success(pid)
        }
        let probe = HostProbe(target: self)
        guard let pid = probe.readPid(pidFile), pid > 0 else {
            return .failure(HostError(host: name, operation: "find the nginx master", reason: "no pid in \(pidFile); is nginx running?"))
        }
        let cmdline = run(["cat", "--", "/proc/\(pid)/cmdline"])
        guard cmdline.succeeded, cmdline.stdout.hasPrefix("nginx: master process") else {
            return .failure(HostError(host: name, operation: "find the nginx master",
                                      reason: "the pid file \(pidFile) names process \(pid), which is not an nginx master (stale pid file)"))
        }
        return .success(pid)
    }

    /// The verifier of this host's reload checks (local checks read /proc here, remote ones through the prefix).
    func verifier(clock: ApplyClock) -> ReloadVerifier {
        ReloadVerifier(checks: control.verify, runner: runner, clock: clock, timeout: control.verifyTimeout,
                       errorLogSettle: control.errorLogSettle, procRoot: procRoot,
                       probe: isLocal ? nil : HostProbe(target: self), transport: transport)
    }
}

/// Reads a remote host's config files through its target (`cat`, and `sh` for include globs).
public struct HostFileStore: ConfigFileStore {
    /// The host.
    public var target: NginxTarget

    /// Creates a store reading through `target`.
    public init(target: NginxTarget) {
        self.target = target
    }

    public func read(_ path: String) throws -> String {
        let result = target.run(["cat", "--", path])
        guard result.succeeded else {
            throw ConfigLoadError.unreadable(path: path, reason: "\(target.name): " + (result.message.isEmpty ? result.summary : result.message))
        }
        let bytes = result.stdoutBytes ?? Array(result.stdout.utf8)
        guard bytes.count <= LocalFileStore.maxFileBytes else {
            throw ConfigLoadError.tooLarge(path: path, limit: LocalFileStore.maxFileBytes)
        }
        return ConfigText.decode(bytes)
    }

    public func glob(_ pattern: String) -> [String] {
        // IFS empty: no word splitting of the pattern, only pathname expansion; unmatched patterns stay literal.
        let result = target.script("IFS=; for f in $1; do [ -e \"$f\" ] && printf '%s\\n' \"$f\"; done; exit 0", [pattern])
        guard result.succeeded else { return [] }
        return result.stdout.split(separator: "\n").map(String.init).sorted()
    }
}

/// The process facts the reload checks read, from a remote host through its target.
struct HostProbe: Sendable {
    var target: NginxTarget

    func readPid(_ pidFile: String) -> Int32? {
        let result = target.run(["cat", "--", pidFile])
        guard result.succeeded else { return nil }
        return Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func isAlive(_ pid: Int32) -> Bool {
        let result = target.run(["cat", "--", "/proc/\(pid)/stat"])
        guard result.succeeded, let fields = ProcessTable.statFields(Data(result.stdout.utf8)) else { return false }
        return fields.state != "Z" && fields.state != "X"
    }

    func children(of parent: Int32) -> Set<Int32> {
        let result = target.script("for s in /proc/[0-9]*/stat; do read -r l < \"$s\" 2>/dev/null && printf '%s\\n' \"$l\"; done; exit 0", [])
        var out = Set<Int32>()
        for line in result.stdout.split(separator: "\n") {
            guard let pid = Int32(line.prefix { $0 != " " }), let fields = ProcessTable.statFields(Data(line.utf8)) else { continue }
            if fields.ppid == parent && fields.state != "Z" { out.insert(pid) }
        }
        return out
    }

    func fileSize(_ path: String) -> UInt64 {
        let result = target.script("wc -c < \"$1\"", [path])
        return UInt64(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    func text(of path: String, from offset: UInt64) -> String {
        target.script("tail -c +\"$2\" -- \"$1\"", [path, String(offset + 1)]).stdout
    }
}
