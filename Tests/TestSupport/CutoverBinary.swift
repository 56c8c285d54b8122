import Apply
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the built `cutover` executable for integration tests and runs it as a child process.
public enum CutoverBinary {
    /// Why the binary could not be found or run.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String

        /// Creates a failure saying what went wrong.
        public init(description: String) {
            self.description = description
        }
    }

    /// What one run of the binary did.
    public struct Result: Sendable, CustomStringConvertible {
        /// The exit status (128 + signal number when killed by a signal).
        public var exitCode: Int32
        /// Everything written on standard output.
        public var stdout: String
        /// Everything written on standard error.
        public var stderr: String
        /// Whether the child outlived its timeout and was killed.
        public var timedOut: Bool

        /// The status and both streams, for test failure messages.
        public var description: String {
            "exit \(exitCode)\(timedOut ? " (timed out)" : "")\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)"
        }
    }

    /// The places the binary is looked for, in order: `$CUTOVER_BINARY`, beside the test executable or
    /// bundle (`.build/<triple>/debug/cutover`), then the package's `.build/debug/cutover`.
    public static func candidates(environment: [String: String] = ProcessInfo.processInfo.environment,
                                  filePath: String = #filePath) -> [String] {
        var out: [String] = []
        if let explicit = environment["CUTOVER_BINARY"], !explicit.isEmpty { out.append(explicit) }
        if let first = CommandLine.arguments.first {
            let executable = URL(fileURLWithPath: first).resolvingSymlinksInPath()
            var directory = executable.deletingLastPathComponent()
            // Inside an .xctest bundle (macOS: Foo.xctest/Contents/MacOS/Foo) climb to the bundle's directory.
            for _ in 0..<4 where directory.path.contains(".xctest") { directory.deleteLastPathComponent() }
            out.append(directory.appendingPathComponent("cutover").path)
        }
        let bundle = Bundle.main.bundleURL.resolvingSymlinksInPath()
        out.append(bundle.appendingPathComponent("cutover").path)
        out.append(bundle.deletingLastPathComponent().appendingPathComponent("cutover").path)
        // Tests/TestSupport/CutoverBinary.swift → the package root.
        let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        out.append(root.appendingPathComponent(".build/debug/cutover").path)
        return out
    }

    /// The path of the built `cutover` executable.
    public static func path() throws -> String {
        let list = candidates()
        for candidate in list where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw Failure(description: "no cutover executable at \(list.joined(separator: ", ")); build it with `swift build --build-tests` (or set CUTOVER_BINARY)")
    }
}

/// Runs the built `cutover` with `args` in `cwd`, with `env` added to (and overriding) this process's
/// environment, and stdin from /dev/null; kills it with SIGKILL when it outlives `timeout`.
public func runCutover(_ args: [String], cwd: String, env: [String: String] = [:],
                       timeout: Duration = .seconds(30)) throws -> CutoverBinary.Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try CutoverBinary.path())
    process.arguments = args
    process.currentDirectoryURL = URL(fileURLWithPath: cwd)
    process.environment = ProcessInfo.processInfo.environment.merging(env) { _, new in new }
    let outPipe = Pipe(), errPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try process.run()
    let collected = PipeCollector(out: outPipe.fileHandleForReading, err: errPipe.fileHandleForReading)
    var timedOut = false
    if exited.wait(timeout: .now() + .milliseconds(timeout.milliseconds)) == .timedOut {
        timedOut = true
        kill(process.processIdentifier, SIGKILL)
        _ = exited.wait(timeout: .now() + 10)
    }
    let (stdout, stderr) = collected.wait()
    let code: Int32 = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    return CutoverBinary.Result(exitCode: code, stdout: stdout, stderr: stderr, timedOut: timedOut)
}

/// Reads both pipes to their end on background threads, so a chatty child never blocks on a full pipe.
private final class PipeCollector: @unchecked Sendable {
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    init(out outHandle: FileHandle, err errHandle: FileHandle) {
        for (handle, isOut) in [(outHandle, true), (errHandle, false)] {
            group.enter()
            Thread { [self] in
                let data = (try? handle.readToEnd()) ?? Data()
                lock.withLock { if isOut { out = data } else { err = data } }
                group.leave()
            }.start()
        }
    }

    /// Waits (at most ten seconds) for both streams and returns them as text.
    func wait() -> (String, String) {
        _ = group.wait(timeout: .now() + 10)
        return lock.withLock { (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self)) }
    }
}
