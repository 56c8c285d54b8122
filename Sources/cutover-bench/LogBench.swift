import Foundation

/// Runs the Log benchmark.
func runLogBenchmark(_ arguments: [String]) throws {
    print("not written yet")
}
