import Apply
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the environment lets this process do with a path.
public struct PathAccess: Sendable, Equatable {
    /// Whether the path exists.
    public var exists: Bool
    /// Whether this process may read it (`access(R_OK)`).
    public var readable: Bool
    /// Whether this process may write it (`access(W_OK)`).
    public var writable: Bool
    /// Whether it is a directory.
    public var isDirectory: Bool

    /// Creates an access description.
    public init(exists: Bool, readable: Bool, writable: Bool, isDirectory: Bool = false) {
        self.exists = exists
        self.readable = readable
        self.writable = writable
        self.isDirectory = isDirectory
    }

    /// A path that does not exist.
    public static let missing = PathAccess(exists: false, readable: false, writable: false)
}

/// The size and last modification time of a file.
public struct FileStatus: Sendable, Equatable {
    /// The size in bytes.
    public var size: Int64
    /// The last modification time.
    public var modified: Date

    /// Creates a status.
    public init(size: Int64, modified: Date) {
        self.size = size
        self.modified = modified
    }
}

/// Whether a process exists and whether this process may signal it.
public enum ProcessState: Sendable, Equatable {
    /// No process has that pid.
    case gone
    /// The process exists and `kill(pid, 0)` succeeds: this process may signal it.
    case signalable
    /// The process exists but signalling it is not permitted (EPERM).
    case notPermitted
}

/// The environment the preflight checks look at: commands, file access, file status, processes and the clock.
///
/// The real one (`SystemProbe`) asks the operating system; tests pass a fake.
public protocol PreflightProbe: Sendable {
    /// Runs `argv` (never through a shell) for at most `timeout`; throws when it cannot be started.
    func run(_ argv: [String], timeout: Duration) throws -> CommandResult
    /// What this process may do with `path`.
    func access(_ path: String) -> PathAccess
    /// The size and modification time of `path`, nil when it cannot be stat'ed.
    func status(_ path: String) -> FileStatus?
    /// The last `maxBytes` bytes of `path` (the whole file when smaller).
    func readTail(_ path: String, maxBytes: Int) throws -> [UInt8]
    /// Whether `pid` exists and may be signalled.
    func process(_ pid: Int32) -> ProcessState
    /// The effective user id (0 for root).
    func effectiveUserID() -> UInt32
    /// The current wall-clock time.
    func now() -> Date
}

/// Why the probe could not read a file.
public struct ProbeReadError: Error, CustomStringConvertible, Equatable {
    /// The file that could not be read.
    public var path: String
    /// The operating system's reason (strerror).
    public var reason: String

    /// Creates the error.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "cannot read \(path): \(reason); check the path and its permissions" }
}

/// The real probe: commands through the project's `CommandRunner`, files and processes through POSIX calls.
public struct SystemProbe: PreflightProbe {
    /// The runner every command goes through.
    public let runner: CommandRunner
    private let clock: ApplyClock

    /// Creates a probe running commands with `runner` and reading the time from `clock` (the executable's one clock).
    public init(runner: CommandRunner = ProcessRunner(), clock: ApplyClock) {
        self.runner = runner
        self.clock = clock
    }

    public func run(_ argv: [String], timeout: Duration) throws -> CommandResult {
        try runner.run(argv, timeout: timeout)
    }

    public func access(_ path: String) -> PathAccess {
        var st = stat()
        guard stat(path, &st) == 0 else { return .missing }
        let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        return PathAccess(exists: true, readable: posixAccess(path, R_OK),
                          writable: posixAccess(path, W_OK), isDirectory: isDirectory)
    }

    public func status(_ path: String) -> FileStatus? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let seconds = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        return FileStatus(size: Int64(st.st_size), modified: Date(timeIntervalSince1970: seconds))
    }

    public func readTail(_ path: String, maxBytes: Int) throws -> [UInt8] {
        // Non-blocking, so a FIFO is refused at once instead of hanging the check.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ProbeReadError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ProbeReadError(path: path, reason: String(cString: strerror(errno))) }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw ProbeReadError(path: path, reason: "it is not a regular file (a FIFO, socket or device), so it cannot be a log nginx appends to")
        }
        let size = Int(st.st_size)
        let start = max(0, size - max(0, maxBytes))
        guard lseek(fd, off_t(start), SEEK_SET) >= 0 else {
            throw ProbeReadError(path: path, reason: String(cString: strerror(errno)))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size - start)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count < size - start {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ProbeReadError(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            bytes += buffer[0..<min(n, size - start - bytes.count)]
        }
        return bytes
    }

    public func process(_ pid: Int32) -> ProcessState {
        guard pid > 0 else { return .gone }
        if kill(pid, 0) == 0 { return .signalable }
        return errno == EPERM ? .notPermitted : .gone
    }

    public func effectiveUserID() -> UInt32 { UInt32(geteuid()) }

    public func now() -> Date { clock.now() }
}

/// Whether `access(2)` grants `mode` on `path` to this process.
private func posixAccess(_ path: String, _ mode: Int32) -> Bool {
    access(path, mode) == 0
}
