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

/// The single-executor lease: an exclusive `FileLock` on a file beside the plan log, held for the executor's
/// whole life, with the holder's record (JSON) written into the file. The kernel drops the lock when the holder
/// dies, so a lease whose holder is gone is taken over by the next executor; while it lives, the others read who it is.
public final class ExecutorLease: @unchecked Sendable {
    /// The lease file.
    public let path: String
    /// This process's record.
    public let holder: LeaseHolder
    /// The previous holder named in the file when this process took the lease over, if its process is gone.
    public let tookOverFrom: LeaseHolder?
    private let lock: FileLock

    private init(path: String, lock: FileLock, holder: LeaseHolder, tookOverFrom: LeaseHolder?) {
        self.path = path
        self.lock = lock
        self.holder = holder
        self.tookOverFrom = tookOverFrom
    }

    /// What trying to take the lease gave.
    public enum Outcome: Sendable {
        /// This process executes the plans now.
        case acquired(ExecutorLease)
        /// Another live process does (nil when its file names no one yet).
        case held(by: LeaseHolder?)
    }

    /// Tries once to take the lease at `path` for `role`; the holder record's `since` is `clock`'s now.
    public static func acquire(path: String, role: String, clock: ApplyClock) throws(PlanStoreError) -> Outcome {
        let me = LeaseHolder(pid: getpid(), host: ApplyConfiguration.currentHost(), user: ApplyConfiguration.currentUser(), role: role,
                             since: clock.now())
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        var record = (try? encoder.encode(me)).map { [UInt8]($0) } ?? []
        record.append(0x0a)
        let attempt: FileLock.Attempt
        do {
            attempt = try FileLock.tryAcquire(path: path, record: record, mode: 0o664)
        } catch {
            throw PlanStoreError(path: path, message: "cannot take the executor lease: \(error); run as a user who may write beside the journal")
        }
        switch attempt {
        case .held(let record):
            return .held(by: decode(record))
        case .acquired(let lock, let previousRecord):
            let previous = decode(previousRecord).flatMap { $0.pid == getpid() ? nil : $0 }
            return .acquired(ExecutorLease(path: path, lock: lock, holder: me, tookOverFrom: previous))
        }
    }

    /// Who holds the lease at `path` now: nil when no live process does.
    public static func currentHolder(path: String) -> LeaseHolder? {
        FileLock.holderRecord(path: path).flatMap(decode)
    }

    /// Gives the lease up (also done when the object goes away).
    public func release() { lock.release() }

    private static func decode(_ record: [UInt8]) -> LeaseHolder? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let line = record.split(separator: 0x0a).first.map { Data($0) } ?? Data()
        return try? decoder.decode(LeaseHolder.self, from: line)
    }
}
