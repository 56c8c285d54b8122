import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an external command did: its exit status, captured output and how long it ran.
public struct CommandResult: Sendable, Equatable {
    /// The argv that ran.
    public var argv: [String]
    /// The exit status (128 + signal number when killed by a signal; -1 when killed on timeout).
    public var exitCode: Int32
    /// Everything the command wrote on standard output.
    public var stdout: String
    /// Everything the command wrote on standard error.
    public var stderr: String
    /// Wall time from spawn to exit.
    public var duration: Duration
    /// Whether the command was killed because it outlived its timeout.
    public var timedOut: Bool
    /// Standard output as the bytes the command wrote (set by `ProcessRunner`; `stdout` is their UTF-8
    /// reading, lossy for other bytes), for callers that need them exactly (a config file read by `cat`).
    public var stdoutBytes: [UInt8]?

    /// Creates a result.
    public init(argv: [String], exitCode: Int32, stdout: String = "", stderr: String = "",
                duration: Duration = .zero, timedOut: Bool = false) {
        self.argv = argv
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.duration = duration
        self.timedOut = timedOut
    }

    /// Whether the command exited with status 0 in time.
    public var succeeded: Bool { exitCode == 0 && !timedOut }

    /// The command's own words: stderr, else stdout, trimmed (nginx writes its messages to stderr).
    public var message: String {
        let err = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        if !err.isEmpty { return err }
        return stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A one-line summary: the argv and how it ended.
    public var summary: String {
        let cmd = argv.joined(separator: " ")
        if timedOut { return "`\(cmd)` timed out after \(duration.milliseconds) ms and was killed" }
        return "`\(cmd)` exited with status \(exitCode)"
    }
}

/// Why a command could not be run at all.
public struct CommandLaunchError: Error, CustomStringConvertible, Equatable {
    /// The argv that failed to start.
    public var argv: [String]
    /// The errno from posix_spawn or pipe.
    public var errno: Int32

    /// Creates the error.
    public init(argv: [String], errno: Int32) {
        self.argv = argv
        self.errno = errno
    }

    /// The message shown to the operator: what went wrong and what to do.

    public var description: String {
        let name = argv.first ?? "(empty argv)"
        return "could not run `\(argv.joined(separator: " "))`: \(String(cString: strerror(errno))); "
            + "check that \(name) is installed and on PATH, or configure the command's argv"
    }
}

/// Runs external commands as an argv (never through a shell) with a timeout; the one way the project
/// starts processes, so tests can script it.
public protocol CommandRunner: Sendable {
    /// Runs `argv` (argv[0] looked up on PATH), waits at most `timeout`, killing it past that, and
    /// returns what it did; throws only when the command could not be started.
    func run(_ argv: [String], timeout: Duration) throws -> CommandResult

    /// Runs `argv` like `run(_:timeout:)` with `input` on its standard input (a notification's JSON event).
    func run(_ argv: [String], input: [UInt8], timeout: Duration) throws -> CommandResult
}

extension CommandRunner {
    /// Runners that cannot feed standard input (the demo's, which runs nothing) run the command without it.
    public func run(_ argv: [String], input: [UInt8], timeout: Duration) throws -> CommandResult {
        try run(argv, timeout: timeout)
    }
}

/// The real runner: posix_spawn with stdout and stderr captured through pipes, SIGKILL on timeout.
///
/// It stops reading once the child has exited (a daemon the command leaves behind may keep the pipes
/// open), so it returns promptly for `nginx` started with `daemon on`.
public struct ProcessRunner: CommandRunner {
    /// Creates a runner.
    public init() {}

    public func run(_ argv: [String], timeout: Duration) throws -> CommandResult {
        try run(argv, stdin: nil, timeout: timeout)
    }

    /// Runs `argv` with `input` as its standard input, read from an unlinked temporary file (so a command
    /// that never reads it cannot block on a full pipe).
    public func run(_ argv: [String], input: [UInt8], timeout: Duration) throws -> CommandResult {
        var template = Array((NSTemporaryDirectory() + "/cutover-stdin-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        guard fd >= 0 else { throw CommandLaunchError(argv: argv, errno: errno) }
        defer { close(fd) }
        unlink(String(cString: template))
        var written = 0
        while written < input.count {
            let n = input.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + written }, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw CommandLaunchError(argv: argv, errno: n < 0 ? errno : EIO) }
            written += n
        }
        _ = lseek(fd, 0, SEEK_SET)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return try run(argv, stdin: fd, timeout: timeout)
    }

    private func run(_ argv: [String], stdin: Int32?, timeout: Duration) throws -> CommandResult {
        guard !argv.isEmpty else { throw CommandLaunchError(argv: argv, errno: EINVAL) }
        let clock = ContinuousClock()
        let start = clock.now
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        // pipe2 is not exported to Swift; close-on-exec is set right after (the spawned child gets its
        // ends through dup2, which clears the flag on the copies).
        guard pipe(&outPipe) == 0 else { throw CommandLaunchError(argv: argv, errno: errno) }
        guard pipe(&errPipe) == 0 else {
            let saved = errno
            close(outPipe[0]); close(outPipe[1])
            throw CommandLaunchError(argv: argv, errno: saved)
        }
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Children start with default signal handling and an empty mask, whatever this process set.
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArgs.append(nil)
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, cArgs, environ)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw CommandLaunchError(argv: argv, errno: rc)
        }
        defer { close(outPipe[0]); close(errPipe[0]) }
        _ = fcntl(outPipe[0], F_SETFL, fcntl(outPipe[0], F_GETFL) | O_NONBLOCK)
        _ = fcntl(errPipe[0], F_SETFL, fcntl(errPipe[0], F_GETFL) | O_NONBLOCK)

        var out: [UInt8] = [], err: [UInt8] = []
        var outOpen = true, errOpen = true
        var status: Int32 = 0
        var exited = false
        var timedOut = false
        let deadline = start.advanced(by: timeout)
        var buffer = [UInt8](repeating: 0, count: 16384)

        func drain(_ fd: Int32, into data: inout [UInt8], open: inout Bool) {
            while open {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    data += buffer[0..<n]
                } else if n == 0 {
                    open = false
                } else {
                    if errno == EINTR { continue }
                    if errno != EAGAIN && errno != EWOULDBLOCK { open = false }
                    return
                }
            }
        }

        while !exited {
            var fds: [pollfd] = []
            if outOpen { fds.append(pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0)) }
            if errOpen { fds.append(pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)) }
            // Poll in short slices: the child may exit while a daemon it spawned keeps the pipes open.
            let remaining = deadline - clock.now
            let sliceMs = Int32(max(0, min(remaining.milliseconds, outOpen || errOpen ? 20 : 2)))
            if fds.isEmpty {
                usleep(UInt32(sliceMs) * 1000)
            } else {
                _ = poll(&fds, nfds_t(fds.count), sliceMs)
            }
            drain(outPipe[0], into: &out, open: &outOpen)
            drain(errPipe[0], into: &err, open: &errOpen)
            let w = waitpid(pid, &status, WNOHANG)
            if w == pid {
                exited = true
            } else if w < 0 && errno != EINTR {
                exited = true
                status = 0
            } else if clock.now >= deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                timedOut = true
                exited = true
            }
        }
        drain(outPipe[0], into: &out, open: &outOpen)
        drain(errPipe[0], into: &err, open: &errOpen)

        let code: Int32
        if timedOut {
            code = -1
        } else if status & 0x7f == 0 {
            code = (status >> 8) & 0xff
        } else {
            code = 128 + (status & 0x7f)
        }
        var result = CommandResult(argv: argv, exitCode: code,
                                   stdout: String(decoding: out, as: UTF8.self),
                                   stderr: String(decoding: err, as: UTF8.self),
                                   duration: clock.now - start, timedOut: timedOut)
        result.stdoutBytes = out
        return result
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded down.
    public var milliseconds: Int {
        let (s, atto) = components
        return Int(s) * 1000 + Int(atto / 1_000_000_000_000_000)
    }

    /// The duration in milliseconds as a fraction.
    public var millisecondsDouble: Double {
        let (s, atto) = components
        return Double(s) * 1000 + Double(atto) / 1e15
    }
}
