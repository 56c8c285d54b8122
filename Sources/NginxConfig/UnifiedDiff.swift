/// Returns the unified diff (as `diff -u` prints it) that turns `old` into `new`, or "" when they are equal.
///
/// Lines are compared exactly (Myers' O(ND) shortest edit script). A file whose last line lacks a
/// newline gets the `\ No newline at end of file` marker after that line, as GNU diff prints it.
/// `oldName`/`newName` go on the `---`/`+++` header lines verbatim; `context` is the number of unchanged
/// lines kept around each change (hunks whose context overlaps are merged).
public func unifiedDiff(old: String, new: String, oldName: String, newName: String, context: Int = 3) -> String {
    if old == new { return "" }
    let a = DiffLines(old)
    let b = DiffLines(new)
    let script = myersEditScript(a.keys, b.keys)
    let hunks = groupIntoHunks(script, context: max(0, context))
    var out = "--- \(oldName)\n+++ \(newName)\n"
    for hunk in hunks {
        out += "@@ -\(rangeText(hunk.oldStart, hunk.oldCount)) +\(rangeText(hunk.newStart, hunk.newCount)) @@\n"
        for op in hunk.ops {
            switch op {
            case .keep(let i, let j):
                out += " " + a.lines[i] + "\n"
                // Keys differ unless both lines lack the newline, so checking one side is enough.
                if a.missingNewlineAt(i) && b.missingNewlineAt(j) { out += "\\ No newline at end of file\n" }
            case .delete(let i):
                out += "-" + a.lines[i] + "\n"
                if a.missingNewlineAt(i) { out += "\\ No newline at end of file\n" }
            case .insert(let j):
                out += "+" + b.lines[j] + "\n"
                if b.missingNewlineAt(j) { out += "\\ No newline at end of file\n" }
            }
        }
    }
    return out
}

/// The lines of a text split on "\n", remembering whether the final line lacked its newline.
private struct DiffLines {
    var lines: [String]
    var lastLacksNewline: Bool
    /// The lines as compared: a last line without its newline gets a suffix no line can contain, so
    /// "b" at end of file differs from "b\n", as in diff.
    var keys: [String] {
        guard lastLacksNewline, let last = lines.last else { return lines }
        return lines.dropLast() + [last + "\n"]
    }

    init(_ text: String) {
        if text.isEmpty {
            lines = []
            lastLacksNewline = false
            return
        }
        // Split on the byte, not the Character: "\n" is never part of a multi-byte sequence in UTF-8,
        // and byte splitting skips grapheme breaking (a "\r\n" pair stays inside its line, as in diff).
        var parts = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { String(Substring($0)) }
        if parts.last == "" {
            parts.removeLast()
            lastLacksNewline = false
        } else {
            lastLacksNewline = true
        }
        lines = parts
    }

    func missingNewlineAt(_ index: Int) -> Bool { lastLacksNewline && index == lines.count - 1 }
}

/// One step of an edit script, with indexes into the old and new line arrays.
private enum DiffOp {
    case keep(Int, Int)
    case delete(Int)
    case insert(Int)
}

/// A hunk: 1-based start lines, line counts and its operations.
private struct DiffHunk {
    var oldStart: Int
    var oldCount: Int
    var newStart: Int
    var newCount: Int
    var ops: [DiffOp]
}

private func rangeText(_ start: Int, _ count: Int) -> String {
    // diff prints "start,count", omitting ",1"; an empty range names the line before it.
    if count == 1 { return "\(start)" }
    return "\(count == 0 ? start - 1 : start),\(count)"
}

/// Computes a shortest edit script from `a` to `b` with Myers' greedy algorithm (keeping each round's
/// frontier for the backtrack), after trimming the common prefix and suffix.
private func myersEditScript(_ a: [String], _ b: [String]) -> [DiffOp] {
    var prefix = 0
    while prefix < a.count && prefix < b.count && a[prefix] == b[prefix] { prefix += 1 }
    var suffix = 0
    while suffix < a.count - prefix && suffix < b.count - prefix
        && a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }

    // Map lines to integers so the inner loop compares ints.
    var ids: [String: Int] = [:]
    func id(_ s: String) -> Int {
        if let v = ids[s] { return v }
        let v = ids.count
        ids[s] = v
        return v
    }
    let x = a[prefix..<(a.count - suffix)].map(id)
    let y = b[prefix..<(b.count - suffix)].map(id)
    let n = x.count, m = y.count
    let maxD = n + m
    let offset = maxD + 1
    var v = [Int](repeating: 0, count: 2 * maxD + 3)
    var trace: [[Int]] = []
    var found = false
    if maxD > 0 {
        outer: for d in 0...maxD {
            trace.append(v)
            var k = -d
            while k <= d {
                var px: Int
                if k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) {
                    px = v[offset + k + 1]
                } else {
                    px = v[offset + k - 1] + 1
                }
                var py = px - k
                while px < n && py < m && x[px] == y[py] { px += 1; py += 1 }
                v[offset + k] = px
                if px >= n && py >= m { found = true; break outer }
                k += 2
            }
        }
    }
    // Backtrack through the saved frontiers.
    var middle: [DiffOp] = []
    if found {
        var cx = n, cy = m
        for d in stride(from: trace.count - 1, through: 0, by: -1) {
            let vd = trace[d]
            let k = cx - cy
            let prevK: Int
            if k == -d || (k != d && vd[offset + k - 1] < vd[offset + k + 1]) {
                prevK = k + 1
            } else {
                prevK = k - 1
            }
            let prevX = d == 0 ? 0 : vd[offset + prevK]
            let prevY = prevX - prevK
            while cx > prevX && cy > prevY {
                cx -= 1; cy -= 1
                middle.append(.keep(prefix + cx, prefix + cy))
            }
            if d > 0 {
                if cx == prevX {
                    cy -= 1
                    middle.append(.insert(prefix + cy))
                } else {
                    cx -= 1
                    middle.append(.delete(prefix + cx))
                }
            }
        }
        middle.reverse()
    }
    var ops: [DiffOp] = (0..<prefix).map { .keep($0, $0) }
    ops += middle
    for s in 0..<suffix {
        ops.append(.keep(a.count - suffix + s, b.count - suffix + s))
    }
    return reorderDeletesFirst(ops)
}

/// Puts deletions before insertions within each run of changes, as diff prints them.
private func reorderDeletesFirst(_ ops: [DiffOp]) -> [DiffOp] {
    var out: [DiffOp] = []
    out.reserveCapacity(ops.count)
    var dels: [DiffOp] = [], ins: [DiffOp] = []
    func flush() { out += dels; out += ins; dels.removeAll(); ins.removeAll() }
    for op in ops {
        switch op {
        case .keep: flush(); out.append(op)
        case .delete: dels.append(op)
        case .insert: ins.append(op)
        }
    }
    flush()
    return out
}

/// Splits an edit script into hunks with `context` unchanged lines around each run of changes.
private func groupIntoHunks(_ ops: [DiffOp], context: Int) -> [DiffHunk] {
    let changeIdx = ops.indices.filter { if case .keep = ops[$0] { return false } else { return true } }
    guard !changeIdx.isEmpty else { return [] }
    // Ranges of op indexes per hunk.
    var ranges: [(Int, Int)] = []
    var start = max(0, changeIdx[0] - context)
    var end = min(ops.count - 1, changeIdx[0] + context)
    for c in changeIdx.dropFirst() {
        if c - context <= end + 1 {
            end = min(ops.count - 1, c + context)
        } else {
            ranges.append((start, end))
            start = max(0, c - context)
            end = min(ops.count - 1, c + context)
        }
    }
    ranges.append((start, end))

    // Line positions before each op.
    var hunks: [DiffHunk] = []
    for (s, e) in ranges {
        // Where this hunk starts in each file: count the ops before it.
        var oldLine = 0, newLine = 0
        switch ops[s] {
        case .keep(let i, let j): oldLine = i; newLine = j
        case .delete(let i):
            oldLine = i
            newLine = positionInNew(ops, before: s)
        case .insert(let j):
            newLine = j
            oldLine = positionInOld(ops, before: s)
        }
        var oc = 0, nc = 0
        for op in ops[s...e] {
            switch op {
            case .keep: oc += 1; nc += 1
            case .delete: oc += 1
            case .insert: nc += 1
            }
        }
        hunks.append(DiffHunk(oldStart: oldLine + 1, oldCount: oc, newStart: newLine + 1, newCount: nc,
                              ops: Array(ops[s...e])))
    }
    return hunks
}

private func positionInNew(_ ops: [DiffOp], before index: Int) -> Int {
    var count = 0
    for op in ops[..<index] {
        switch op {
        case .keep, .insert: count += 1
        case .delete: break
        }
    }
    return count
}

private func positionInOld(_ ops: [DiffOp], before index: Int) -> Int {
    var count = 0
    for op in ops[..<index] {
        switch op {
        case .keep, .delete: count += 1
        case .insert: break
        }
    }
    return count
}
