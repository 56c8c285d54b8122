import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock (flock) on a lock file, held by one writer across processes; the
/// holder's pid is written into the file so a waiting writer can name it.
public final class FileLock: @unchecked Sendable {
    /// The lock file's path.
    public let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { release() }

    /// Takes the lock at `path`, creating the file, polling every few milliseconds for up to `wait`;
    /// throws `ApplyError.lockHeld` naming the holder's pid when it stays held.
    public static func acquire(path: String, wait: Duration, clock: ApplyClock = .system) throws -> FileLock {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ApplyError.io(operation: "open lock file", path: path, errno: errno)
        }
        let deadline = clock.monotonic() + wait
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { break }
            let e = errno
            if e == EINTR { continue }
            guard e == EWOULDBLOCK || e == EAGAIN else {
                close(fd)
                throw ApplyError.io(operation: "lock", path: path, errno: e)
            }
            if clock.monotonic() >= deadline {
                let holder = readHolder(fd: fd)
                close(fd)
                throw ApplyError.lockHeld(path: path, holderPid: holder, waited: wait)
            }
            clock.sleep(.milliseconds(5))
        }
        // Record ourselves as the holder.
        writeRecord(Array("\(getpid())\n".utf8), fd: fd)
        return FileLock(path: path, fd: fd)
    }

    /// What one try to take a lock gave.
    public enum Attempt: @unchecked Sendable {
        /// This process holds the lock now; `previousRecord` is what the file said before (a dead holder's record,
        /// empty after a clean release).
        case acquired(FileLock, previousRecord: [UInt8])
        /// Another live process holds it; `record` is what it wrote (empty when it wrote nothing yet).
        case held(record: [UInt8])
    }

    /// Tries once, without waiting, to take the lock at `path` (creating the file with `mode`) and writes `record`
    /// into the file as the holder's, for others to read with `holderRecord(path:)`.
    public static func tryAcquire(path: String, record: [UInt8], mode: mode_t = 0o644) throws -> Attempt {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ApplyError.io(operation: "open lock file", path: path, errno: errno) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            let held = readRecord(fd: fd)
            close(fd)
            guard e == EWOULDBLOCK || e == EAGAIN else { throw ApplyError.io(operation: "lock", path: path, errno: e) }
            return .held(record: held)
        }
        let previous = readRecord(fd: fd)
        writeRecord(record, fd: fd)
        _ = fsync(fd)
        return .acquired(FileLock(path: path, fd: fd), previousRecord: previous)
    }

    /// The record the live holder of the lock at `path` wrote; nil when no process holds it (whatever the file says).
    public static func holderRecord(path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return nil
        }
        return readRecord(fd: fd)
    }

    /// Releases the lock (also done when the object goes away); the file stays for the next writer.
    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        _ = flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    private static func readHolder(fd: Int32) -> Int32? {
        let text = String(decoding: readRecord(fd: fd), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text)
    }

    /// The holder's record: the file's first 4 KiB.
    private static func readRecord(fd: Int32) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    /// Replaces the file's content with `record`.
    private static func writeRecord(_ record: [UInt8], fd: Int32) {
        _ = ftruncate(fd, 0)
        _ = record.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }
}
