import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The record a change writes before it swaps any file in, and removes once its outcome is journaled: if
/// the process dies in between (SIGKILL, power loss), the next Cutover command finds it and puts the
/// previous files back (`ApplyPipeline.recoverInterrupted`).
public struct ApplyIntent: Sendable, Equatable, Codable {
    /// One file the change swaps.
    public struct File: Sendable, Equatable, Codable {
        /// The path as the change names it (a symlink, possibly).
        public var path: String
        /// The file actually written: `path` with symlinks resolved.
        public var target: String
        /// The hard-link backup of the previous file, beside `target`.
        public var backup: String
        /// SHA-256 of the previous text.
        public var hashBefore: String
        /// SHA-256 of the text Cutover writes.
        public var hashAfter: String

        /// Creates a file entry.
        public init(path: String, target: String, backup: String, hashBefore: String, hashAfter: String) {
            self.path = path
            self.target = target
            self.backup = backup
            self.hashBefore = hashBefore
            self.hashAfter = hashAfter
        }
    }

    /// The files one host of a fleet change swaps.
    public struct HostFiles: Sendable, Equatable, Codable {
        /// The host's name (`hosts[].name`).
        public var host: String
        /// Its files, with paths as on that host.
        public var files: [File]

        /// Creates a host entry.
        public init(host: String, files: [File]) {
            self.host = host
            self.files = files
        }
    }

    /// The id the change's journal record will carry.
    public var id: String
    /// When the change started.
    public var time: Date
    /// The process applying it.
    public var pid: Int32
    /// Who applied it, where.
    public var user: String
    public var host: String
    /// What the change does.
    public var change: ChangeDescription
    /// The files it swaps (a local change).
    public var files: [File]
    /// The files each host swaps (a fleet change); nil for a local change.
    public var hosts: [HostFiles]?

    /// Creates an intent.
    public init(id: String, time: Date, pid: Int32, user: String, host: String, change: ChangeDescription, files: [File],
                hosts: [HostFiles]? = nil) {
        self.hosts = hosts
        self.id = id
        self.time = time
        self.pid = pid
        self.user = user
        self.host = host
        self.change = change
        self.files = files
    }

    /// The backup path the pipeline keeps beside `target`.
    public static func backupPath(for target: String) -> String { AtomicFiles.backupPath(for: target) }

    /// The intent file kept beside a lock file.
    public static func path(besideLock lockFile: String) -> String {
        AtomicFiles.directory(of: lockFile) + "/.cutover.intent.json"
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// Writes the intent to `path` durably (temp file, fsync, rename, fsync of the directory).
    public func save(to path: String) throws {
        let data = try Self.encoder().encode(self)
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ApplyError.io(operation: "write the change's intent", path: temp, errno: errno) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0 || errno == EINVAL
        let saved = errno
        close(fd)
        guard written == data.count, synced else {
            unlink(temp)
            throw ApplyError.io(operation: "write the change's intent", path: temp, errno: written < 0 || !synced ? saved : ENOSPC)
        }
        try AtomicFiles.renameFile(temp, to: path)
        AtomicFiles.fsyncDirectory(AtomicFiles.directory(of: path))
    }

    /// Reads the intent at `path`; nil when there is none.
    static func read(from path: String) throws -> ApplyIntent? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ApplyError.io(operation: "read the intent of an interrupted change", path: path, errno: EACCES)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(ApplyIntent.self, from: data)
        } catch {
            throw ApplyError.journalCorrupt(path: path, line: 1, reason: "the intent of an interrupted change is unreadable: \(error)")
        }
    }

    /// Removes the intent at `path` (the change's outcome is journaled).
    static func remove(at path: String) {
        unlink(path)
        AtomicFiles.fsyncDirectory(AtomicFiles.directory(of: path))
    }
}
