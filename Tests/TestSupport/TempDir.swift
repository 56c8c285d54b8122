import Foundation

/// A uniquely named directory under the system temp directory, removed by `remove()` or on deinit.
public final class TempDir: @unchecked Sendable {
    /// The directory's absolute path (symlinks resolved).
    public let path: String

    /// Creates a new empty directory whose name starts with `prefix`.
    public init(prefix: String = "cutover-test") throws {
        let base = FileManager.default.temporaryDirectory.resolvingSymlinksInPath().path
        let url = URL(fileURLWithPath: base).appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(12))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit { remove() }

    /// The absolute path of `name` inside the directory.
    public func file(_ name: String) -> String {
        path + "/" + name
    }

    /// Writes `text` to `name` (creating parent directories) and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let target = file(name)
        let parent = (target as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: target))
        return target
    }

    /// Reads `name` as UTF-8 text.
    public func read(_ name: String) throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: file(name))), as: UTF8.self)
    }

    /// Deletes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
