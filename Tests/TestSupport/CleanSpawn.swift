import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started the way a shell starts one: default signal dispositions and an empty signal mask
/// (a test runner's threads may block signals, and `Process` children inherit that), stdio on /dev/null.
/// For tests that check what a signal does to a process. Stop it with `stop()` (SIGKILL and reap).
public final class CleanChild: @unchecked Sendable {
    /// The child's pid.
    public let pid: pid_t
    private var reaped = false

    /// Starts `argv` (argv[0] looked up on PATH) with stdin on /dev/null, stdout and stderr into the given files
    /// (created or truncated) and `environment` added to this process's.
    public init(_ argv: [String], stdout: String = "/dev/null", stderr: String = "/dev/null", environment: [String: String] = [:]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        var envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in envp { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawnp(&child, argv[0], &actions, &attr, cArgs, envp)
        guard rc == 0 else { throw NginxHarness.Failure(description: "spawn \(argv): \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// Waits at most `timeout` for the child to end and returns its raw wait status; nil when it was still
    /// running (it is then killed with SIGKILL and reaped).
    public func wait(timeout: Duration) -> Int32? {
        if let status = waitStatus { return status }
        let deadline = ContinuousClock.now + timeout
        var raw: Int32 = 0
        while ContinuousClock.now < deadline {
            if waitpid(pid, &raw, WNOHANG) == pid { reaped = true; waitStatus = raw; return raw }
            usleep(5_000)
        }
        stop()
        return nil
    }

    private var waitStatus: Int32?

    deinit { stop() }

    /// Whether the child is still running (not exited, not killed); reaps it once it has ended.
    public var isRunning: Bool {
        guard !reaped else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { reaped = true; waitStatus = status; return false }
        return true
    }

    /// Kills the child with SIGKILL and reaps it.
    public func stop() {
        guard !reaped else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
    }
}
