/// One line of a `LineChart`: values spread evenly over the chart's width, oldest at the left.
public struct ChartSeries: Hashable, Sendable {
    /// The values; nil leaves a gap (no data in that bucket).
    public var values: [Double?]
    /// The colour of the line.
    public var style: Style

    /// Creates a series.
    public init(_ values: [Double?], style: Style) {
        self.values = values
        self.style = style
    }
}

/// A line chart over time drawn with braille dots (two columns by four rows of dots per cell), several series
/// overlaid, with vertical markers (for example, at each change). Without Unicode it draws `*` per cell.
public struct LineChart: Widget {
    /// The braille dot bits of a cell, by dot column (0, 1) and dot row from the top (0...3).
    static let dotBits: [[UInt32]] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]]

    /// The series, drawn in order (a later series' colour wins in a shared cell).
    public var series: [ChartSeries]
    /// The value at the bottom row.
    public var minimum: Double
    /// The value at the top row.
    public var maximum: Double
    /// Positions in `0...1` of the chart's width where a vertical marker is drawn.
    public var markers: [Double]
    /// The style of the markers.
    public var markerStyle: Style
    /// Whether braille can be drawn (else ASCII).
    public var unicode: Bool

    /// Creates a chart.
    public init(series: [ChartSeries], minimum: Double = 0, maximum: Double, markers: [Double] = [], markerStyle: Style = .plain,
                unicode: Bool = true) {
        self.series = series
        self.minimum = minimum
        self.maximum = maximum
        self.markers = markers
        self.markerStyle = markerStyle
        self.unicode = unicode
    }

    /// The dot row (0 at the bottom, `rows - 1` at the top) of a value in a chart `rows` dots high.
    public static func dotRow(_ value: Double, minimum: Double, maximum: Double, rows: Int) -> Int {
        guard rows > 1, maximum > minimum, !value.isNaN else { return 0 }
        let f = min(1, max(0, (value - minimum) / (maximum - minimum)))
        return Int((f * Double(rows - 1)).rounded())
    }

    /// The dot column (0...columns - 1) of point `index` of `count` points spread over `columns` dot columns.
    public static func dotColumn(_ index: Int, count: Int, columns: Int) -> Int {
        guard count > 0, columns > 0 else { return 0 }
        return min(columns - 1, max(0, Int((Double(index) + 0.5) * Double(columns) / Double(count))))
    }

    public func render(in area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        let xScale = unicode ? 2 : 1, yScale = unicode ? 4 : 1
        let columns = area.width * xScale, rows = area.height * yScale
        var bits = [UInt32](repeating: 0, count: area.width * area.height)
        var styles = [Style?](repeating: nil, count: area.width * area.height)
        func plot(_ x: Int, _ y: Int, _ style: Style) {
            guard x >= 0, x < columns, y >= 0, y < rows else { return }
            let cx = x / xScale, cyFromTop = (rows - 1 - y) / yScale
            let i = cyFromTop * area.width + cx
            if unicode {
                bits[i] |= LineChart.dotBits[x % 2][(rows - 1 - y) % 4]
            } else {
                bits[i] = 1
            }
            styles[i] = style
        }
        for s in series {
            var previous: (x: Int, y: Int)?
            for (index, value) in s.values.enumerated() {
                guard let value else {
                    previous = nil
                    continue
                }
                let x = LineChart.dotColumn(index, count: s.values.count, columns: columns)
                let y = LineChart.dotRow(value, minimum: minimum, maximum: maximum, rows: rows)
                if let p = previous {
                    // Join to the previous point: every dot column between gets its interpolated row, and each
                    // column's vertical run covers the step so steep changes stay connected.
                    let span = max(1, x - p.x)
                    var lastY = p.y
                    for step in 1...span {
                        let cx = p.x + step
                        let cy = p.y + Int((Double(y - p.y) * Double(step) / Double(span)).rounded())
                        for yy in min(lastY, cy)...max(lastY, cy) { plot(cx, yy, s.style) }
                        lastY = cy
                    }
                } else {
                    plot(x, y, s.style)
                }
                previous = (x, y)
            }
        }
        var markerColumns = Set<Int>()
        for m in markers where m >= 0 && m <= 1 { markerColumns.insert(min(area.width - 1, Int(m * Double(area.width)))) }
        for cy in 0..<area.height {
            for cx in 0..<area.width {
                let i = cy * area.width + cx
                if bits[i] != 0, let style = styles[i] {
                    let symbol = unicode ? String(Character(Unicode.Scalar(0x2800 + bits[i]) ?? " ")) : "*"
                    buffer.set(string: symbol, at: area.x + cx, area.y + cy, style: style, clipWidth: 1)
                } else if markerColumns.contains(cx) {
                    buffer.set(string: unicode ? "│" : "|", at: area.x + cx, area.y + cy, style: markerStyle, clipWidth: 1)
                }
            }
        }
    }
}
