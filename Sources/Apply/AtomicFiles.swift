import Foundation
import NginxConfig
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File operations the pipeline needs, each turning errno into an `ApplyError`: whole-file reads,
/// same-directory temp files with the original's owner and mode, hard-link backups and renames.
///
/// Temp and backup names start with a dot so an nginx `include dir/*;` glob never picks them up.
enum AtomicFiles {
    /// Reads the file as lossless text (`ConfigText`: UTF-8, other bytes kept as they are).
    static func readText(_ path: String) throws -> String {
        // The config is bytes: a Latin-1 comment is kept byte for byte (`ConfigText`).
        ConfigText.decode(try readBytes(path))
    }

    /// The path with every symlink resolved (what a write must replace so the link survives); the path
    /// itself when it is no link.
    static func resolveSymlinks(_ path: String) throws -> String {
        guard let resolved = realpath(path, nil) else {
            throw ApplyError.io(operation: "resolve the symlinks of", path: path, errno: errno)
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Reads a regular file's bytes (a FIFO, device or directory is refused rather than read).
    static func readBytes(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ApplyError.io(operation: "read", path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ApplyError.io(operation: "stat", path: path, errno: errno) }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw ApplyError.io(operation: "read (not a regular file)", path: path, errno: st.st_mode & S_IFMT == S_IFDIR ? EISDIR : EINVAL)
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ApplyError.io(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }

    /// The directory part of `path`.
    static func directory(of path: String) -> String {
        let dir = (path as NSString).deletingLastPathComponent
        return dir.isEmpty ? "." : dir
    }

    /// A file of Cutover's own beside `path`: `.NAME.cutover-SUFFIX` in the same directory (dot-named, so no
    /// include glob of nginx's reads it).
    static func beside(_ path: String, _ suffix: String) -> String {
        directory(of: path) + "/." + (path as NSString).lastPathComponent + ".cutover-" + suffix
    }

    /// The backup path kept beside `path`.
    static func backupPath(for path: String) -> String { beside(path, "backup") }

    /// Writes `text` to a new temp file beside `path` with the original's owner, group and mode,
    /// fsyncs it and returns its path.
    static func writeTemp(beside path: String, text: String) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { throw ApplyError.io(operation: "stat", path: path, errno: errno) }
        let temp = beside(path, "tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ApplyError.io(operation: "create temp file", path: temp, errno: errno) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temp) }
        }
        let bytes = ConfigText.encode(text)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ApplyError.io(operation: "write temp file", path: temp, errno: errno)
            }
            offset += n
        }
        if st.st_uid != geteuid() || st.st_gid != getegid() {
            guard fchown(fd, st.st_uid, st.st_gid) == 0 else {
                throw ApplyError.io(operation: "give the temp file the original's owner", path: temp, errno: errno)
            }
        }
        guard fchmod(fd, st.st_mode & 0o7777) == 0 else {
            throw ApplyError.io(operation: "give the temp file the original's mode", path: temp, errno: errno)
        }
        guard fsync(fd) == 0 else { throw ApplyError.io(operation: "fsync", path: temp, errno: errno) }
        ok = true
        return temp
    }

    /// Makes `backup` another name of the file at `path` (a hard link; a copy where links are refused).
    static func makeBackup(of path: String, at backup: String) throws {
        if unlink(backup) != 0 && errno != ENOENT {
            throw ApplyError.io(operation: "remove old backup", path: backup, errno: errno)
        }
        if link(path, backup) == 0 { return }
        let text = try readText(path)
        let temp = try writeTemp(beside: path, text: text)
        try renameFile(temp, to: backup)
    }

    /// Atomically renames `from` over `to`.
    static func renameFile(_ from: String, to: String) throws {
        guard rename(from, to) == 0 else {
            throw ApplyError.io(operation: "rename \(from) to", path: to, errno: errno)
        }
    }

    /// Flushes a directory's entries to disk.
    static func fsyncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
