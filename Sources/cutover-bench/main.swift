import Foundation

/// The benchmark runner: `swift run -c release cutover-bench SUITE [options]`.
let suites: [(name: String, summary: String, run: ([String]) throws -> Void)] = [
    ("routing", "load a generated 1,000-endpoint config, apply an edit, print it", runRoutingBenchmark),
    ("rollback", "rollback --all on 500 endpoints: read, edit, validate, write, reload", runRollbackBenchmark),
    ("logs", "parse, classify and aggregate a generated multi-million-line access log", runLogBenchmark),
    ("backfill", "read a generated 2,000,000-line log on every core and on one, with the threads and the peak RSS", runBackfillBenchmark),
    ("ingest", "20 TCP syslog senders at 200,000 lines/s into the listener and the dashboard: loss, rate, memory, key latency", runIngestBenchmark),
    ("verdict", "false alarms and detection time of the verdict on the lab's eight endpoints (seeded runs)", runVerdictBenchmark),
]

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let suite = suites.first(where: { $0.name == name }) else {
    print("usage: cutover-bench SUITE [options]\n\nsuites:")
    for suite in suites { print("  \(suite.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(suite.summary)") }
    exit(arguments.isEmpty ? 0 : 64)
}
do {
    try suite.run(Array(arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("cutover-bench \(name): \(error)\n".utf8))
    exit(1)
}
