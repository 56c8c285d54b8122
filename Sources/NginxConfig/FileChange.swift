/// A whole-file edit: the exact text an edit was computed from and the text to write instead.
public struct FileChange: Sendable, Equatable {
    /// The file's absolute path.
    public var path: String
    /// The text the edit was computed from.
    public var before: String
    /// The new text.
    public var after: String

    public init(path: String, before: String, after: String) {
        self.path = path
        self.before = before
        self.after = after
    }
}
