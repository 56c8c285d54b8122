import Apply
import Foundation
import NginxConfig
import Rollout
import TrafficStats
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the simulator could not read the routing config.
public struct SimulatorError: Error, CustomStringConvertible, Equatable {
    /// What went wrong and what to do.
    public var description: String
}

/// The demo's traffic: appends nginx-format lines to the main and migration logs at a steady rate, sending
/// each request of a migrating endpoint to the new service with its group's percent as read from the file on
/// disk (re-read on `reload()`, the demo's stand-in for `nginx -s reload`).
public final class TrafficSimulator: @unchecked Sendable {
    /// The scenario: endpoints, profiles and legacy paths.
    public let scenario: DemoScenario
    /// The routing config the split follows.
    public let configPath: String
    /// The main log (current service).
    public let mainLog: String
    /// The migration log (new service).
    public let migrationLog: String
    /// Requests per second.
    public let rate: Double
    private let names: RolloutNames
    private let clock: @Sendable () -> Date
    private let monotonic: @Sendable () -> Double
    private let sleep: @Sendable (Double) -> Void
    private let lock = NSLock()
    private let generation = NSLock()
    private var random: SplitMix64
    private var percents: [EndpointID: Double] = [:]
    private var running = false
    private var thread: Thread?
    private var written = 0
    private var failure: String?
    private let cumulative: [(Double, Int)]
    private let totalWeight: Double

    /// Creates a simulator (reading the config once); `start()` begins writing.
    ///
    /// - Parameters:
    ///   - clock: the app's clock: the wall time written into the lines, the monotonic reading that paces them,
    ///     and the sleep between batches.
    public init(scenario: DemoScenario = .standard, configPath: String, mainLog: String, migrationLog: String,
                rate: Double = 300, names: RolloutNames = RolloutNames(), seed: UInt64 = UInt64.random(in: 0...UInt64.max),
                clock: ApplyClock = .system) throws {
        let sleep = clock.sleep
        self.scenario = scenario
        self.configPath = configPath
        self.mainLog = mainLog
        self.migrationLog = migrationLog
        self.rate = rate
        self.names = names
        self.clock = clock.now
        self.monotonic = clock.monotonicSeconds
        self.sleep = { sleep(.seconds($0)) }
        random = SplitMix64(seed: seed)
        // Endpoints are indices 0..<n, legacy paths n..<n+m.
        var running = 0.0
        var table: [(Double, Int)] = []
        for (i, e) in scenario.endpoints.enumerated() {
            running += e.weight
            table.append((running, i))
        }
        for (i, p) in scenario.legacyPaths.enumerated() {
            running += p.weight
            table.append((running, scenario.endpoints.count + i))
        }
        cumulative = table
        totalWeight = running
        try reload()
    }

    /// Re-reads the config on disk: each endpoint's new-service percent from its group (0 when rolled back).
    public func reload() throws {
        let config: ConfigSet
        do {
            config = try ConfigSet.load(path: configPath)
        } catch {
            throw SimulatorError(description: "the simulator cannot read \(configPath): \(error)")
        }
        let model = Discovery.discover(config, names: names)
        var next: [EndpointID: Double] = [:]
        for endpoint in model.endpoints { next[endpoint.id] = endpoint.percent.value }
        lock.lock()
        percents = next
        lock.unlock()
    }

    /// The new-service percent the simulator uses for a map key (0 when the key is not migrating).
    public func percent(forKey key: String) -> Double {
        lock.lock()
        defer { lock.unlock() }
        return percents[EndpointID(raw: key)] ?? 0
    }

    /// The lines written so far.
    public var requestsWritten: Int {
        lock.lock()
        defer { lock.unlock() }
        return written
    }

    /// Why the writer stopped, if it failed.
    public var error: String? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    /// Makes `count` requests at `time`: the lines for the main log and for the migration log.
    public func lines(count: Int, at time: Date) -> (main: [String], migration: [String]) {
        // The state lock is held only to copy the percents: readers on the UI thread (`error`, `requestsWritten`)
        // must never wait for a batch to be generated. The generator lock guards the random state.
        lock.lock()
        let percents = self.percents
        lock.unlock()
        generation.lock()
        defer { generation.unlock() }
        var main: [String] = [], migration: [String] = []
        let stamp = TrafficSimulator.timeLocal(time)
        for _ in 0..<count {
            let pick = Double.random(in: 0..<totalWeight, using: &random)
            let index = cumulative.first { pick < $0.0 }?.1 ?? 0
            if index < scenario.endpoints.count {
                let e = scenario.endpoints[index]
                let toNew = Double.random(in: 0..<100, using: &random) < (percents[EndpointID(raw: e.key)] ?? 0)
                let uri = e.path + "?id=\(Int.random(in: 1...9999, using: &random))"
                let line = makeLine(uri: uri, profile: toNew ? e.new : e.current, stamp: stamp, upstream: toNew ? "127.0.0.1:9000" : "127.0.0.1:8000")
                if toNew { migration.append(line) } else { main.append(line) }
            } else {
                let p = scenario.legacyPaths[index - scenario.endpoints.count]
                main.append(makeLine(uri: p.path, profile: scenario.legacyProfile, stamp: stamp, upstream: "127.0.0.1:8000"))
            }
        }
        return (main, migration)
    }

    private func makeLine(uri: String, profile: ServiceProfile, stamp: String, upstream: String) -> String {
        // Box-Muller for a standard normal.
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &random), u2 = Double.random(in: 0..<1, using: &random)
        let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        var ms = profile.medianMs * exp(profile.sigma * z)
        if Double.random(in: 0..<1, using: &random) < profile.tailShare { ms *= profile.tailFactor }
        let failed = Double.random(in: 0..<1, using: &random) < profile.errorShare
        let status = failed ? [500, 502, 503][Int.random(in: 0...2, using: &random)]
            : (Double.random(in: 0..<1, using: &random) < 0.03 ? 404 : 200)
        let bytes = failed ? 0 : Int.random(in: 200...8000, using: &random)
        let seconds = String(format: "%.3f", ms / 1000)
        let ip = "10.0.\(Int.random(in: 0...3, using: &random)).\(Int.random(in: 1...254, using: &random))"
        return "\(ip) - - [\(stamp)] \"GET \(uri) HTTP/1.1\" \(status) \(bytes) \"-\" \"cutover-demo/1.0\" \(seconds) \(seconds)"
    }

    /// nginx's `$time_local` for a time, in UTC: `28/Nov/2026:02:20:00 +0000`.
    public static func timeLocal(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let month = months[max(0, min(11, (c.month ?? 1) - 1))]
        return String(format: "%02d/", c.day ?? 1) + month
            + String(format: "/%04d:%02d:%02d:%02d +0000", c.year ?? 1970, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    /// Appends lines to a file with one write (creating it when missing).
    static func append(_ lines: [String], to path: String) throws {
        guard !lines.isEmpty else { return }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SimulatorError(description: "cannot open \(path) for appending: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SimulatorError(description: "cannot append to \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Writes one batch for the time since the last one; returns the requests written.
    @discardableResult
    public func writeBatch(count: Int) throws -> Int {
        let (main, migration) = lines(count: count, at: clock())
        try TrafficSimulator.append(main, to: mainLog)
        try TrafficSimulator.append(migration, to: migrationLog)
        lock.lock()
        written += count
        lock.unlock()
        return count
    }

    /// Starts the writer thread (once).
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        guard !running else { return }
        running = true
        let thread = Thread { [weak self] in self?.loop() }
        thread.name = "cutover-demo-traffic"
        self.thread = thread
        thread.start()
    }

    /// Stops the writer thread (it finishes its current batch).
    public func stop() {
        lock.lock()
        running = false
        lock.unlock()
    }

    private var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    private func loop() {
        #if canImport(Glibc)
        // The simulator stands in for nginx, another process: it must not take the CPU from the dashboard's
        // own threads, so this thread runs at a lower priority (nice 10; per-thread on Linux).
        // /proc/thread-self links to PID/task/TID; setpriority on a TID renices just that thread.
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self"),
           let tid = link.split(separator: "/").last.flatMap({ id_t($0) }) {
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, 10)
        }
        #endif
        var last = monotonic()
        var due = 0.0
        while isRunning {
            let now = monotonic()
            due += rate * max(0, min(1, now - last))
            last = now
            let count = Int(due)
            due -= Double(count)
            if count > 0 {
                do {
                    try writeBatch(count: count)
                } catch {
                    lock.lock()
                    failure = "\(error)"
                    running = false
                    lock.unlock()
                    return
                }
            }
            sleep(0.1)
        }
    }
}
