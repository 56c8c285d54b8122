@testable import Apply
import NginxConfig
import Testing

@Suite struct ReversePatchTests {
    @Test func rebuildsTheOldTextFromRandomEdits() throws {
        var seed: UInt64 = 42
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        for round in 0..<300 {
            let old = (0..<next(25)).map { _ in "line \(next(8))" }
            var new = old
            for _ in 0..<next(5) {
                switch next(3) {
                case 0 where !new.isEmpty: new.remove(at: next(new.count))
                case 1: new.insert("ins \(next(5))", at: next(new.count + 1))
                default: if !new.isEmpty { new[next(new.count)] = "mod \(next(5))" }
                }
            }
            let oldTerminated = next(4) != 0
            let newTerminated = next(4) != 0
            let oldText = old.joined(separator: "\n") + (oldTerminated && !old.isEmpty ? "\n" : "")
            let newText = new.joined(separator: "\n") + (newTerminated && !new.isEmpty ? "\n" : "")
            let diff = unifiedDiff(old: oldText, new: newText, oldName: "a", newName: "b", context: next(4))
            if oldText == newText { continue }
            let rebuilt = try ReversePatch.oldText(fromNew: newText, diff: diff)
            #expect(rebuilt == oldText, "round \(round)\n\(diff)")
        }
    }

    @Test func refusesADiffThatDoesNotMatch() {
        let diff = unifiedDiff(old: "a\nb\n", new: "a\nc\n", oldName: "x", newName: "y")
        #expect(throws: ReversePatch.Mismatch.self) { _ = try ReversePatch.oldText(fromNew: "a\nd\n", diff: diff) }
    }
}
