import Apply
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who executes the plans: the process holding the lease, as its file names it.
public struct LeaseHolder: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The holder's pid.
    public var pid: Int32
    /// Where and as whom it runs.
    public var host: String
    public var user: String
    /// What it is (`guard`, `dashboard`).
    public var role: String
    /// Since when.
    public var since: Date

    /// Creates a holder record.
    public init(pid: Int32, host: String, user: String, role: String, since: Date) {
        self.pid = pid
        self.host = host
        self.user = user
        self.role = role
        self.since = since
    }

    public var description: String {
        "cutover \(role) pid \(pid) (\(user)@\(host), since \(ISO8601DateFormatter().string(from: since)))"
    }
}

/// The single-executor lease: an exclusive `flock` on a file beside the plan log, held for the executor's
/// whole life, with the holder's pid written into the file. The kernel drops the lock when the holder dies, so
/// a lease whose holder is gone is taken over by the next executor; while it lives, the others read who it is.
public final class ExecutorLease: @unchecked Sendable {
    /// The lease file.
    public let path: String
    /// This process's record.
    public let holder: LeaseHolder
    /// The previous holder named in the file when this process took the lease over, if its process is gone.
    public let tookOverFrom: LeaseHolder?
    private var fd: Int32

    private init(path: String, fd: Int32, holder: LeaseHolder, tookOverFrom: LeaseHolder?) {
        self.path = path
        self.fd = fd
        self.holder = holder
        self.tookOverFrom = tookOverFrom
    }

    deinit { release() }

    /// What trying to take the lease gave.
    public enum Outcome: Sendable {
        /// This process executes the plans now.
        case acquired(ExecutorLease)
        /// Another live process does (nil when its file names no one yet).
        case held(by: LeaseHolder?)
    }

    /// Tries once to take the lease at `path` for `role`.
    public static func acquire(path: String, role: String, now: Date = Date()) throws(PlanStoreError) -> Outcome {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o664)
        guard fd >= 0 else {
            throw PlanStoreError(path: path, message: "cannot open the executor lease: \(String(cString: strerror(errno))); run as a user who may write beside the journal")
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let holder = read(fd: fd)
            close(fd)
            return .held(by: holder)
        }
        let previous = read(fd: fd).flatMap { $0.pid == getpid() ? nil : $0 }
        let me = LeaseHolder(pid: getpid(), host: ApplyConfiguration.currentHost(), user: ApplyConfiguration.currentUser(), role: role, since: now)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        var data = (try? encoder.encode(me)) ?? Data()
        data.append(0x0a)
        _ = ftruncate(fd, 0)
        _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = fsync(fd)
        return .acquired(ExecutorLease(path: path, fd: fd, holder: me, tookOverFrom: previous))
    }

    /// Who holds the lease at `path` now: nil when no live process does.
    public static func currentHolder(path: String) -> LeaseHolder? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // Free to take means no one holds it, whatever the file says.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return nil
        }
        return read(fd: fd)
    }

    /// Gives the lease up (also done when the object goes away).
    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        _ = flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    private static func read(fd: Int32) -> LeaseHolder? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let text = buffer[0..<n].split(separator: 0x0a).first.map { Data($0) } ?? Data()
        return try? decoder.decode(LeaseHolder.self, from: text)
    }
}
