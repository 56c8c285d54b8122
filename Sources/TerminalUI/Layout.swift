/// A rectangle of terminal cells: origin column `x`, row `y`, and a size in cells.
public struct Rect: Hashable, Sendable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }

    /// The empty rectangle at the origin.
    public static let zero = Rect(x: 0, y: 0, width: 0, height: 0)

    public var left: Int { x }
    public var top: Int { y }
    /// One past the last column.
    public var right: Int { x + width }
    /// One past the last row.
    public var bottom: Int { y + height }
    public var area: Int { width * height }
    public var isEmpty: Bool { width == 0 || height == 0 }

    public var description: String { "Rect(x: \(x), y: \(y), w: \(width), h: \(height))" }

    /// True when the cell at column `cx`, row `cy` lies inside.
    public func contains(x cx: Int, y cy: Int) -> Bool { cx >= x && cx < right && cy >= y && cy < bottom }

    /// The overlap of two rectangles (empty, positioned at the clamped origin, when they do not overlap).
    public func intersection(_ other: Rect) -> Rect {
        let x0 = max(x, other.x), y0 = max(y, other.y)
        let x1 = min(right, other.right), y1 = min(bottom, other.bottom)
        return Rect(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }

    /// The rectangle shrunk by the given margins (never below zero size).
    public func inset(top: Int = 0, left: Int = 0, bottom: Int = 0, right: Int = 0) -> Rect {
        let w = max(0, width - left - right), h = max(0, height - top - bottom)
        return Rect(x: x + min(left, width), y: y + min(top, height), width: w, height: h)
    }

    /// The rectangle shrunk by `horizontal` columns on each side and `vertical` rows at top and bottom.
    public func inset(horizontal: Int = 0, vertical: Int = 0) -> Rect {
        inset(top: vertical, left: horizontal, bottom: vertical, right: horizontal)
    }

    /// A rectangle of the given size centred inside this one (clamped to fit).
    public func centered(width w: Int, height h: Int) -> Rect {
        let cw = min(max(0, w), width), ch = min(max(0, h), height)
        return Rect(x: x + (width - cw) / 2, y: y + (height - ch) / 2, width: cw, height: ch)
    }

    /// A rectangle centred inside this one whose size is a percentage of this one's.
    public func centered(widthPercent: Int, heightPercent: Int) -> Rect {
        centered(width: width * widthPercent / 100, height: height * heightPercent / 100)
    }

    /// Splits the rectangle into stacked rows sized by the constraints.
    public func rows(_ constraints: [Constraint], spacing: Int = 0) -> [Rect] {
        let sizes = Constraint.solve(constraints, total: height, spacing: spacing)
        var out: [Rect] = []
        var cursor = y
        for size in sizes {
            out.append(Rect(x: x, y: cursor, width: width, height: size))
            cursor += size + spacing
        }
        return out
    }

    /// Splits the rectangle into side-by-side columns sized by the constraints.
    public func columns(_ constraints: [Constraint], spacing: Int = 0) -> [Rect] {
        let sizes = Constraint.solve(constraints, total: width, spacing: spacing)
        var out: [Rect] = []
        var cursor = x
        for size in sizes {
            out.append(Rect(x: cursor, y: y, width: size, height: height))
            cursor += size + spacing
        }
        return out
    }
}

/// A size rule for one part of a layout split.
public enum Constraint: Hashable, Sendable {
    /// Exactly this many cells.
    case length(Int)
    /// This percentage (0...100) of the space being split (after spacing).
    case percentage(Int)
    /// A share of what is left, but at least this many cells (as `fill(1)` with a floor).
    case min(Int)
    /// A share of what is left after lengths, percentages and minimums, proportional to the weight.
    case fill(Int)

    /// The sizes for the constraints in `total` cells with `spacing` cells between parts.
    ///
    /// Lengths and percentages are allotted first, then minimums, then the rest is shared among `fill` and
    /// `min` parts by weight (the remainder going to the earliest). When the space is too small, parts are
    /// shrunk from the last one backwards, so the leading parts stay intact. Sizes always sum to at most `total`.
    public static func solve(_ constraints: [Constraint], total: Int, spacing: Int = 0) -> [Int] {
        guard !constraints.isEmpty else { return [] }
        let available = max(0, total - spacing * (constraints.count - 1))
        var sizes = constraints.map { c -> Int in
            switch c {
            case .length(let n): return max(0, n)
            case .percentage(let p): return available * Swift.min(100, Swift.max(0, p)) / 100
            case .min(let n): return max(0, n)
            case .fill: return 0
            }
        }
        let used = sizes.reduce(0, +)
        if used > available {
            var excess = used - available
            for i in sizes.indices.reversed() where excess > 0 {
                let cut = Swift.min(sizes[i], excess)
                sizes[i] -= cut
                excess -= cut
            }
            return sizes
        }
        let weights = constraints.map { c -> Int in
            switch c {
            case .fill(let w): return Swift.max(0, w)
            case .min: return 1
            default: return 0
            }
        }
        let totalWeight = weights.reduce(0, +)
        var remaining = available - used
        guard totalWeight > 0, remaining > 0 else { return sizes }
        let pool = remaining
        for i in sizes.indices where weights[i] > 0 {
            let share = pool * weights[i] / totalWeight
            sizes[i] += share
            remaining -= share
        }
        for i in sizes.indices where weights[i] > 0 && remaining > 0 {
            sizes[i] += 1
            remaining -= 1
        }
        return sizes
    }
}
