import Testing
@testable import TerminalUI

/// The braille line chart: dots where the values are, joined steps, gaps for nil, markers where no dot is.
@Suite struct LineChartTests {
    func draw(_ chart: LineChart, width: Int, height: Int) -> Buffer {
        var buffer = Buffer(area: Rect(x: 0, y: 0, width: width, height: height))
        chart.render(in: buffer.area, buffer: &buffer)
        return buffer
    }

    @Test func flatLinesSitAtTheirValue() {
        let chart = LineChart(series: [ChartSeries([0, 0, 0, 0], style: .plain)], maximum: 1)
        let buffer = draw(chart, width: 2, height: 1)
        // Value 0 is the bottom dot row of both dot columns of both cells: ⣀ (bits 0x40 | 0x80).
        #expect(buffer[0, 0]?.symbol == "⣀" && buffer[1, 0]?.symbol == "⣀")
        let top = draw(LineChart(series: [ChartSeries([1, 1], style: .plain)], maximum: 1), width: 1, height: 2)
        #expect(top[0, 0]?.symbol == "⠉" && top[0, 1]?.symbol == " ", "value 1 is the top dot row")
    }

    @Test func stepsAreJoinedAndGapsStayEmpty() {
        let chart = LineChart(series: [ChartSeries([0, 1, nil, nil, 0, 0], style: .plain)], maximum: 1)
        let buffer = draw(chart, width: 6, height: 2)
        // The rise from 0 to 1 is one connected vertical run in the second cell column.
        let column1 = (0..<2).map { buffer[1, $0]?.symbol ?? " " }
        #expect(column1.allSatisfy { $0 != " " }, "\(column1)")
        #expect((0..<2).allSatisfy { buffer[2, $0]?.symbol == " " }, "nil leaves the column blank")
    }

    @Test func markersFillEmptyCellsAndAsciiFallsBack() {
        let chart = LineChart(series: [ChartSeries([0, 0, 0, 0], style: .plain)], maximum: 1, markers: [0.5])
        let buffer = draw(chart, width: 4, height: 2)
        #expect(buffer[2, 0]?.symbol == "│", "the marker in the empty top row")
        #expect(buffer[2, 1]?.symbol != "│", "the data dot wins over the marker")
        var ascii = chart
        ascii.unicode = false
        let plain = draw(ascii, width: 4, height: 2)
        #expect(plain[0, 1]?.symbol == "*" && plain[2, 0]?.symbol == "|")
        #expect(LineChart.dotRow(0.5, minimum: 0, maximum: 1, rows: 9) == 4)
        #expect(LineChart.dotColumn(3, count: 4, columns: 8) == 7)
    }
}
