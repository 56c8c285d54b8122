import Apply
import Foundation
import NginxConfig
import TestSupport
import Testing

@Suite struct UnifiedDiffTests {
    /// Runs GNU `diff -u` and drops its two header lines (they carry timestamps).
    func gnuDiff(_ old: String, _ new: String, context: Int = 3) throws -> String {
        let dir = try TempDir()
        let a = try dir.write("a", old)
        let b = try dir.write("b", new)
        let result = try ProcessRunner().run(["diff", "-U", "\(context)", a, b], timeout: .seconds(5))
        return result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n")
    }

    func ours(_ old: String, _ new: String, context: Int = 3) -> String {
        unifiedDiff(old: old, new: new, oldName: "a", newName: "b", context: context)
            .split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n")
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var old: String
        var new: String
        var testDescription: String { name }
    }

    static let lines: String = (1...30).map { "line \($0)\n" }.joined()
    static let splitOld: String = "split_clients \"${request_id}\" $g {\n    25% \"new_service\";\n    * \"current_service\";\n}\n"
    static let cases: [Case] = [
        Case(name: "one change in the middle", old: lines, new: lines.replacingOccurrences(of: "line 15\n", with: "changed 15\n")),
        Case(name: "two far-apart hunks", old: lines,
             new: lines.replacingOccurrences(of: "line 3\n", with: "x\n").replacingOccurrences(of: "line 27\n", with: "y\n")),
        Case(name: "close changes merge into one hunk", old: lines,
             new: lines.replacingOccurrences(of: "line 10\n", with: "x\n").replacingOccurrences(of: "line 15\n", with: "y\n")),
        Case(name: "append at the end", old: "a\nb\n", new: "a\nb\nc\nd\n"),
        Case(name: "insert at the start", old: "a\nb\n", new: "z\na\nb\n"),
        Case(name: "delete everything", old: "a\nb\nc\n", new: ""),
        Case(name: "from empty", old: "", new: "a\nb\n"),
        Case(name: "new file lacks final newline", old: "a\nb\nc\n", new: "a\nb\nc"),
        Case(name: "old file lacked final newline", old: "a\nb\nc", new: "a\nb\nc\n"),
        Case(name: "both lack it, last line changed", old: "a\nb\nc", new: "a\nb\nd"),
        Case(name: "both lack it, change before", old: "a\nb\nc\nd\ne", new: "a\nX\nc\nd\ne"),
        Case(name: "CRLF line endings", old: "a\r\nb\r\nc\r\n", new: "a\r\nB\r\nc\r\n"),
        Case(name: "non-ASCII text", old: "# café\nx é\n", new: "# café\nx è\n"),
        Case(name: "percent edit in a split_clients block", old: splitOld,
             new: splitOld.replacingOccurrences(of: "25%", with: "50%")),
    ]

    @Test(arguments: cases)
    func matchesGNUDiff(_ c: Case) throws {
        let expected3 = try gnuDiff(c.old, c.new)
        let expected1 = try gnuDiff(c.old, c.new, context: 1)
        #expect(ours(c.old, c.new) == expected3, "\(c.name)")
        #expect(ours(c.old, c.new, context: 1) == expected1, "\(c.name), context 1")
    }

    @Test func equalTextsGiveEmptyDiff() {
        #expect(unifiedDiff(old: "a\n", new: "a\n", oldName: "x", newName: "y") == "")
    }

    @Test func headerNamesTheFiles() {
        let diff = unifiedDiff(old: "a\n", new: "b\n", oldName: "old.conf", newName: "new.conf")
        #expect(diff == "--- old.conf\n+++ new.conf\n@@ -1 +1 @@\n-a\n+b\n")
    }

    @Test func randomEditsAreMinimalAndReversible() {
        // Deterministic pseudo-random edits; the diff's +/- counts must equal an LCS-based minimum.
        var seed: UInt64 = 0x9e3779b97f4a7c15
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        for round in 0..<200 {
            let old = (0..<next(20)).map { _ in "l\(next(6))" }
            var new = old
            for _ in 0..<next(6) {
                switch next(3) {
                case 0 where !new.isEmpty: new.remove(at: next(new.count))
                case 1: new.insert("l\(next(6))", at: next(new.count + 1))
                default: if !new.isEmpty { new[next(new.count)] = "m\(next(4))" }
                }
            }
            let oldText = old.map { $0 + "\n" }.joined()
            let newText = new.map { $0 + "\n" }.joined()
            let diff = unifiedDiff(old: oldText, new: newText, oldName: "a", newName: "b")
            let body = diff.split(separator: "\n").dropFirst(2)
            let removed = body.filter { $0.hasPrefix("-") }.count
            let added = body.filter { $0.hasPrefix("+") }.count
            let lcs = lcsLength(old, new)
            #expect(removed == old.count - lcs && added == new.count - lcs, "round \(round): \(old) -> \(new)")
            // Applying the hunks forward rebuilds the new text.
            #expect(applyForward(diff, to: old) == new, "round \(round)")
        }
    }

    func lcsLength(_ a: [String], _ b: [String]) -> Int {
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        return table[0][0]
    }

    func applyForward(_ diff: String, to old: [String]) -> [String] {
        var out: [String] = []
        var cursor = 0
        for line in diff.split(separator: "\n").dropFirst(2) {
            if line.hasPrefix("@@") {
                let minus = line.split(separator: " ")[1].dropFirst()
                let parts = minus.split(separator: ",")
                let start = Int(parts[0]) ?? 0
                let count = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
                let target = count == 0 ? start : start - 1
                out += old[cursor..<target]
                cursor = target
            } else if line.hasPrefix(" ") {
                out.append(String(line.dropFirst())); cursor += 1
            } else if line.hasPrefix("-") {
                cursor += 1
            } else if line.hasPrefix("+") {
                out.append(String(line.dropFirst()))
            }
        }
        out += old[cursor...]
        return out
    }
}
