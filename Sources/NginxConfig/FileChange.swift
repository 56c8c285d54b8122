/// A whole-file edit: the exact text a change was computed from and the text that should replace it.
///
/// `path` is absolute. `before` is what the file held when the edit was computed; the apply pipeline
/// refuses the change if the file on disk no longer matches it.
public struct FileChange: Sendable, Equatable, Hashable, Codable {
    /// The absolute path of the file.
    public var path: String
    /// The text the edit was computed from.
    public var before: String
    /// The text the file should hold after the edit.
    public var after: String

    /// Creates a change of `path` from `before` to `after`.
    public init(path: String, before: String, after: String) {
        self.path = path
        self.before = before
        self.after = after
    }

    /// Whether applying this change would leave the file as it is.
    public var isNoOp: Bool { before == after }

    /// The change that undoes this one.
    public var reverted: FileChange { FileChange(path: path, before: after, after: before) }
}
