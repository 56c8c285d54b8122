/// Line-level helpers for trivia text that treat "\r\n" and "\n" alike (Swift joins "\r\n" into one Character,
/// so these work on Unicode scalars).
public enum Trivia {
    /// The text before the first line break (without its "\r"), the break itself, and the text after it.
    public static func splitFirstBreak(_ s: String) -> (before: String, lineBreak: String, after: String)? {
        let scalars = Array(s.unicodeScalars)
        guard let i = scalars.firstIndex(of: "\n") else { return nil }
        return split(scalars, at: i)
    }

    /// The text before the last line break (without its "\r"), the break itself, and the text after it.
    public static func splitLastBreak(_ s: String) -> (before: String, lineBreak: String, after: String)? {
        let scalars = Array(s.unicodeScalars)
        guard let i = scalars.lastIndex(of: "\n") else { return nil }
        return split(scalars, at: i)
    }

    private static func split(_ scalars: [Unicode.Scalar], at i: Int) -> (String, String, String) {
        let crlf = i > 0 && scalars[i - 1] == "\r"
        let beforeEnd = crlf ? i - 1 : i
        return (string(scalars[..<beforeEnd]), crlf ? "\r\n" : "\n", string(scalars[(i + 1)...]))
    }

    /// The lines of `s` split at "\n" (a "\r" before it stays at the end of its line).
    public static func lines(_ s: String) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            if scalar == "\n" {
                out.append(String(current))
                current = String.UnicodeScalarView()
            } else {
                current.append(scalar)
            }
        }
        out.append(String(current))
        return out
    }

    /// `s` without leading and trailing spaces, tabs and line breaks.
    public static func trimmed(_ s: String) -> String {
        let scalars = Array(s.unicodeScalars)
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = scalars.firstIndex(where: { !isSpace($0) }), let end = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return string(scalars[start...end])
    }

    private static func string(_ slice: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: slice)
        return String(view)
    }
}
