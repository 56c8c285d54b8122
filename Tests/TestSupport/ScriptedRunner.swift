import Apply
import Foundation
import Testing

/// A `CommandRunner` for unit tests that answers a scripted sequence of commands in order and records
/// a test issue for any command it was not told to expect (or expected in another order).
public final class ScriptedRunner: CommandRunner, @unchecked Sendable {
    /// One expected command and how it answers.
    public struct Expectation: Sendable {
        /// The exact argv expected.
        public var argv: [String]
        /// Produces the result; may have side effects (edit a file, sleep) to simulate the command.
        public var respond: @Sendable () -> CommandResult

        /// Expects `argv` and answers with `respond()`.
        public init(_ argv: [String], respond: @escaping @Sendable () -> CommandResult) {
            self.argv = argv
            self.respond = respond
        }

        /// Expects `argv` and answers with the given status and output.
        public init(_ argv: [String], exitCode: Int32 = 0, stdout: String = "", stderr: String = "",
                    duration: Duration = .milliseconds(1), timedOut: Bool = false) {
            self.init(argv) {
                CommandResult(argv: argv, exitCode: exitCode, stdout: stdout, stderr: stderr,
                              duration: duration, timedOut: timedOut)
            }
        }
    }

    private let lock = NSLock()
    private var pending: [Expectation]
    private var ran: [[String]] = []
    private let sourceLocation: SourceLocation

    /// Creates a runner expecting `expectations` in order.
    public init(_ expectations: [Expectation] = [], sourceLocation: SourceLocation = #_sourceLocation) {
        self.pending = expectations
        self.sourceLocation = sourceLocation
    }

    /// Adds an expectation at the end of the script.
    public func expect(_ expectation: Expectation) {
        lock.withLock { pending.append(expectation) }
    }

    /// Every argv run so far, in order.
    public var commands: [[String]] {
        lock.withLock { ran }
    }

    /// Records an issue if some expected commands never ran.
    public func verifyAllRan(sourceLocation: SourceLocation = #_sourceLocation) {
        let left = lock.withLock { pending }
        if !left.isEmpty {
            Issue.record("expected commands never ran: \(left.map { $0.argv.joined(separator: " ") })",
                         sourceLocation: sourceLocation)
        }
    }

    /// The standard input each command given one received, in order, with its argv.
    public var inputs: [(argv: [String], input: String)] {
        lock.withLock { fed }
    }

    private var fed: [(argv: [String], input: String)] = []

    public func run(_ argv: [String], input: [UInt8], timeout: Duration) throws -> CommandResult {
        lock.withLock { fed.append((argv, String(decoding: input, as: UTF8.self))) }
        return try run(argv, timeout: timeout)
    }

    public func run(_ argv: [String], timeout: Duration) throws -> CommandResult {
        let next: Expectation? = lock.withLock {
            ran.append(argv)
            guard let first = pending.first, first.argv == argv else { return nil }
            pending.removeFirst()
            return first
        }
        guard let next else {
            let expected = lock.withLock { pending.first?.argv.joined(separator: " ") } ?? "no more commands"
            Issue.record("unexpected command `\(argv.joined(separator: " "))` (expected: \(expected))",
                         sourceLocation: sourceLocation)
            return CommandResult(argv: argv, exitCode: 127, stderr: "ScriptedRunner: unexpected command")
        }
        return next.respond()
    }
}
