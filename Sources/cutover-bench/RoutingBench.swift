import Foundation

/// Runs the Routing benchmark.
func runRoutingBenchmark(_ arguments: [String]) throws {
    print("not written yet")
}
