import AccessLog
import Foundation
import TrafficStats

/// Runs the backfill benchmark: generates one access log in the timed format (both services in one file, told
/// apart by `$upstream_addr`), then reads it from its start sequentially (`poll`, one core) and with
/// `TrafficEngine.backfill` on every core, and checks that both give the same figures.
///
/// Reports whole-process lines/s (lines over wall time), process CPU time, the threads and the peak RSS of each.
/// Options: `--lines N` (2,000,000), `--threads N` (the cores), `--runs N` (3; the median is reported),
/// `--only sequential|parallel` (one of the two, for a profiler), `--dir PATH`, `--keep`, `--reuse`.
func runBackfillBenchmark(_ arguments: [String]) throws {
    var lines = 2_000_000
    var threads = ProcessInfo.processInfo.activeProcessorCount
    var runs = 3
    var directory: String?
    var keep = false
    var reuse = false
    var only: String?
    var i = 0
    while i < arguments.count {
        let value = i + 1 < arguments.count ? arguments[i + 1] : ""
        switch arguments[i] {
        case "--lines": lines = Int(value) ?? lines; i += 1
        case "--threads": threads = max(1, Int(value) ?? threads); i += 1
        case "--runs": runs = max(1, Int(value) ?? runs); i += 1
        case "--dir": directory = value; i += 1
        case "--keep": keep = true
        case "--reuse": reuse = true; keep = true
        case "--only": only = value; i += 1
        default: throw BackfillBenchError.unknownArgument(arguments[i])
        }
        i += 1
    }
    let dir = directory ?? NSTemporaryDirectory() + "cutover-backfillbench-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
    let path = dir + "/backfill-\(lines).log"
    let workload = Workload(endpoints: 40, idsPerPathEndpoint: 2000, notMigratedPaths: 1000, distinctExtraPaths: 0)
    let started = Date()
    if !(reuse && FileManager.default.fileExists(atPath: path)) { try writeOneLog(lines: lines, workload: workload, path: path) }
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    print("backfill: \(grouped(lines)) lines (\(megabytes(size)) MiB) in one file, timed format, 40 endpoints, "
          + "ready in \(seconds(started)); \(ProcessInfo.processInfo.activeProcessorCount) cores, \(runs) runs each, median shown")
    let format = try LogFormat(name: "timed", template: timedTemplate)
    let configuration = TrafficConfiguration(rules: workload.rules, newServiceUpstreams: ["127.0.0.1:9000"])
    func engine() throws -> TrafficEngine {
        try TrafficEngine(sources: [LogSource(path: path, role: .main, format: format)], start: .beginning, configuration: configuration)
    }
    var reference: [TrafficSnapshot] = []
    for (name, threadCount) in [("sequential", 1), ("parallel", threads)] where only == nil || only == name {
        var measured: [(wall: Double, cpu: Double, rss: String, threads: Int)] = []
        for _ in 0..<runs {
            resetPeakRSS()
            let reader = try engine()
            let cpu0 = processCPUSeconds()
            let t0 = DispatchTime.now().uptimeNanoseconds
            var used = 1
            if threadCount == 1 {
                while reader.poll() > 0 {}
            } else {
                used = reader.backfill(threads: threadCount).threads
                while reader.poll() > 0 {}
            }
            let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let cpu = processCPUSeconds() - cpu0
            measured.append((wall, cpu, peakRSSMiB(), used))
            let snapshots = TrafficWindow.allCases.map { reader.snapshot($0) }
            guard let all = snapshots.last, all.lines == lines else {
                throw LogBenchError.mismatch("\(name) read \(snapshots.last?.lines ?? 0) of \(grouped(lines)) lines")
            }
            if reference.isEmpty {
                reference = snapshots
            } else if snapshots != reference {
                throw LogBenchError.mismatch("the \(name) figures differ from the sequential ones")
            }
        }
        let median = measured.sorted { $0.wall < $1.wall }[measured.count / 2]
        print("backfill \(name): \(grouped(Int(Double(lines) / median.wall))) lines/s whole-process "
              + "(\(String(format: "%.3f", median.wall)) s wall, \(String(format: "%.2f", median.cpu)) s CPU, "
              + "\(median.threads) thread\(median.threads == 1 ? "" : "s")), peak RSS \(median.rss) MiB; "
              + "all runs \(measured.map { String(format: "%.3f", $0.wall) }.joined(separator: ", ")) s")
    }
    if only == nil { print("backfill: the parallel figures are identical to the sequential ones (all four windows)") }
}

/// Writes `lines` lines of the workload into one file, both services together.
private func writeOneLog(lines: Int, workload: Workload, path: String) throws {
    guard let file = fopen(path, "w") else { throw LogBenchError.cannotWrite(path) }
    defer { fclose(file) }
    var generator = LogGenerator(workload: workload, json: false)
    var buffer: [UInt8] = []
    buffer.reserveCapacity(1 << 20 + 4096)
    for _ in 0..<lines {
        _ = generator.appendLine(to: &buffer, newService: nil)
        if buffer.count >= 1 << 20 {
            guard buffer.withUnsafeBytes({ fwrite($0.baseAddress, 1, $0.count, file) }) == buffer.count else {
                throw LogBenchError.cannotWrite(path)
            }
            buffer.removeAll(keepingCapacity: true)
        }
    }
    guard buffer.withUnsafeBytes({ fwrite($0.baseAddress, 1, $0.count, file) }) == buffer.count else {
        throw LogBenchError.cannotWrite(path)
    }
}

/// An argument the backfill benchmark does not know (files and figures fail with `LogBenchError`).
enum BackfillBenchError: Error, CustomStringConvertible {
    case unknownArgument(String)

    var description: String {
        switch self {
        case .unknownArgument(let argument):
            return "unknown argument '\(argument)'; use --lines N, --threads N, --runs N, --only sequential|parallel, --dir PATH, --keep, --reuse"
        }
    }
}
