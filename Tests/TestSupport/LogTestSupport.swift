import Foundation

/// A temporary directory unique to one test, removed by `remove()`.
public struct LogTempDirectory: Sendable {
    /// The directory's path.
    public let path: String

    /// Creates a fresh directory under the system's temporary directory.
    public init(_ label: String = "logs") throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    /// The path of a file in the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes (replacing) a file's bytes.
    public func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: file(name)))
    }

    /// Appends bytes to a file, creating it when missing.
    public func append(_ name: String, _ bytes: [UInt8]) throws {
        let path = file(name)
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
    }

    /// Appends text to a file, creating it when missing.
    public func append(_ name: String, _ text: String) throws { try append(name, Array(text.utf8)) }

    /// Removes the directory and everything in it.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A monotonic clock that only moves when a test advances it.
public final class ManualSecondsClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Double

    /// Creates a clock at a start time in seconds.
    public init(_ start: Double = 1000) { current = start }

    /// The current time in seconds.
    public func now() -> Double {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    /// Moves the clock forward.
    public func advance(_ seconds: Double) {
        lock.lock()
        current += seconds
        lock.unlock()
    }
}
