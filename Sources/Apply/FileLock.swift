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
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return FileLock(path: path, fd: fd)
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
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text)
    }
}
