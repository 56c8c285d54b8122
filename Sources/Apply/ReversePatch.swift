/// Rebuilds the old text of a file from its new text and the unified diff between them (as
/// `unifiedDiff` prints it): how undo recovers the text a journaled change replaced.
enum ReversePatch {
    /// Why a diff could not be reversed onto a text.
    struct Mismatch: Error, CustomStringConvertible {
        var description: String
    }

    /// Returns the old side of `diff`, checking every context and added line against `new`.
    static func oldText(fromNew new: String, diff: String) throws -> String {
        var newLines = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var newLacksNewline = false
        if newLines.last == "" { newLines.removeLast() } else if !new.isEmpty { newLacksNewline = true }
        if new.isEmpty { newLines = [] }

        var oldLines: [String] = []
        var oldLacksNewline = false
        var sawNewNoNewline = false
        var cursor = 0  // next unconsumed index in newLines
        var lastKind: Character = " "
        let lines = diff.split(separator: "\n", omittingEmptySubsequences: false)
        var index = 0
        // Skip the file header.
        while index < lines.count && !lines[index].hasPrefix("@@") { index += 1 }
        while index < lines.count {
            let line = lines[index]
            if line.hasPrefix("@@") {
                guard let newStart = parseNewStart(String(line)) else {
                    throw Mismatch(description: "bad hunk header \(line)")
                }
                // Lines between hunks are unchanged.
                let target = max(0, newStart - 1)
                guard target >= cursor, target <= newLines.count else {
                    throw Mismatch(description: "hunk \(line) does not fit the file")
                }
                oldLines += newLines[cursor..<target]
                cursor = target
            } else if line.hasPrefix("\\") {
                switch lastKind {
                case "-": oldLacksNewline = true
                case "+": sawNewNoNewline = true
                default: oldLacksNewline = true; sawNewNoNewline = true
                }
            } else if let kind = line.first, kind == " " || kind == "+" || kind == "-" {
                let body = String(line.dropFirst())
                if kind != "-" {
                    guard cursor < newLines.count, newLines[cursor] == body else {
                        throw Mismatch(description: "line \(cursor + 1) differs from the recorded change")
                    }
                    cursor += 1
                }
                if kind != "+" { oldLines.append(body) }
                lastKind = kind
            } else if !line.isEmpty {
                throw Mismatch(description: "unexpected diff line \(line)")
            }
            index += 1
        }
        oldLines += newLines[cursor...]
        // A new text without a final newline that the diff never mentioned keeps that in the old text.
        if newLacksNewline && !sawNewNoNewline && cursor <= newLines.count { oldLacksNewline = true }
        if oldLines.isEmpty { return "" }
        return oldLines.joined(separator: "\n") + (oldLacksNewline ? "" : "\n")
    }

    private static func parseNewStart(_ header: String) -> Int? {
        // "@@ -a,b +c,d @@"
        guard let plus = header.firstIndex(of: "+") else { return nil }
        let rest = header[header.index(after: plus)...]
        let digits = rest.prefix { $0.isNumber }
        guard let start = Int(digits) else { return nil }
        let afterDigits = rest.dropFirst(digits.count)
        var count = 1
        if afterDigits.first == "," {
            let countDigits = afterDigits.dropFirst().prefix { $0.isNumber }
            count = Int(countDigits) ?? 1
        }
        // An empty range names the line before it.
        return count == 0 ? start + 1 : start
    }
}
