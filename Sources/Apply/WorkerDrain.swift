import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The nginx workers that served before a reload, watched until they have all exited.
///
/// A reload starts new workers on the new configuration and lets the old ones finish the requests they hold
/// (up to `worker_shutdown_timeout`); until the last old worker is gone, a request routed by the previous
/// configuration may still be logged. Traffic confirmation counts from the moment they are gone, instead of
/// guessing a fixed delay.
public struct WorkerDrain: Sendable, Equatable {
    /// The old workers' pids (taken before the reload).
    public var pids: Set<Int32>
    /// Where the process table is read (tests point it elsewhere).
    public var procRoot: String

    /// Watches `pids` (read from `procRoot`).
    public init(pids: Set<Int32>, procRoot: String = "/proc") {
        self.pids = pids
        self.procRoot = procRoot
    }

    /// The live workers of the nginx master named in `pidFile`, taken now (call it before the reload); nil when
    /// the master is unknown (no pid file, no such process), so nothing can be watched.
    public static func workers(ofMasterIn pidFile: String?, procRoot: String = "/proc") -> WorkerDrain? {
        guard let pidFile, let master = ProcessTable.readPid(pidFile), master > 0,
              ProcessTable.isAlive(master, procRoot: procRoot) else { return nil }
        return WorkerDrain(pids: children(of: master, procRoot: procRoot), procRoot: procRoot)
    }

    /// The master's children: from `/proc/PID/task/*/children` (one read per thread), else by scanning the table.
    static func children(of master: Int32, procRoot: String) -> Set<Int32> {
        let tasks = "\(procRoot)/\(master)/task"
        if let threads = try? FileManager.default.contentsOfDirectory(atPath: tasks), !threads.isEmpty {
            var out = Set<Int32>()
            var readAny = false
            for thread in threads {
                guard let data = FileManager.default.contents(atPath: "\(tasks)/\(thread)/children") else { continue }
                readAny = true
                for word in String(decoding: data, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }) {
                    if let pid = Int32(word), ProcessTable.isAlive(pid, procRoot: procRoot) { out.insert(pid) }
                }
            }
            if readAny { return out }
        }
        return ProcessTable.children(of: master, procRoot: procRoot)
    }

    /// The old workers still alive.
    public var remaining: Set<Int32> {
        pids.filter { ProcessTable.isAlive($0, procRoot: procRoot) }
    }

    /// Waits until every old worker has exited, polling every 10 ms, at most `timeout`; returns the wall time
    /// at which they were seen gone, or nil when some still ran at the deadline.
    public func wait(timeout: Duration, clock: ApplyClock) -> Date? {
        let deadline = clock.monotonic() + timeout
        var rounds = 0
        while !remaining.isEmpty {
            rounds += 1
            guard clock.monotonic() < deadline, rounds < 1_000_000 else { return nil }
            clock.sleep(.milliseconds(10))
        }
        return clock.now()
    }
}
