import Foundation

/// Runs the Rollback benchmark.
func runRollbackBenchmark(_ arguments: [String]) throws {
    print("not written yet")
}
