import Foundation

/// A percentage number as short text: `25%`, `12.5%`, `0.25%`.
func formatPercent(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    if rounded == rounded.rounded() { return "\(Int(rounded))%" }
    if (rounded * 10) == (rounded * 10).rounded() { return String(format: "%.1f%%", rounded) }
    return String(format: "%.2f%%", rounded)
}

/// A share (0...1) as a percentage with one decimal: `24.8`.
func formatShare(_ share: Double?) -> String {
    guard let share else { return "-" }
    return String(format: "%.1f", share * 100)
}

/// A latency in milliseconds in at most five cells: `0.8`, `12`, `1234`, `12.3s`.
func formatMs(_ ms: Double?) -> String {
    guard let ms else { return "-" }
    if ms < 10 { return String(format: "%.1f", ms) }
    if ms < 10_000 { return String(format: "%.0f", ms) }
    return String(format: "%.1fs", ms / 1000)
}

/// A signed latency difference: `+12`, `-3.4`, `0`.
func formatDeltaMs(_ ms: Double?) -> String {
    guard let ms else { return "-" }
    let sign = ms > 0 ? "+" : ms < 0 ? "-" : ""
    return sign + formatMs(abs(ms))
}

/// A rate in requests per second: `0.4`, `12`, `1.2k`.
func formatRate(_ rps: Double?) -> String {
    guard let rps else { return "-" }
    if rps < 10 { return String(format: "%.1f", rps) }
    if rps < 10_000 { return String(format: "%.0f", rps) }
    return String(format: "%.1fk", rps / 1000)
}

/// An error share (0...1) as a percentage: `0.12`, `3.4`, `12`.
func formatErrorRate(_ rate: Double?) -> String {
    guard let rate else { return "-" }
    let p = rate * 100
    if p == 0 { return "0" }
    if p < 10 { return String(format: "%.2f", p) }
    return String(format: "%.1f", p)
}

/// A signed difference of error shares in percentage points: `+1.20`, `-0.05`.
func formatErrorDelta(_ delta: Double?) -> String {
    guard let delta else { return "-" }
    let p = delta * 100
    if p == 0 { return "0" }
    return (p > 0 ? "+" : "-") + formatErrorRate(abs(delta))
}

/// A duration for the status line: `43 ms`, `1.2 s`.
func formatDuration(_ duration: Duration) -> String {
    let (seconds, atto) = duration.components
    let ms = Double(seconds) * 1000 + Double(atto) / 1e15
    if ms < 1000 { return String(format: "%.0f ms", ms) }
    return String(format: "%.1f s", ms / 1000)
}

/// A time of day, `HH:mm:ss`, in the given zone.
func formatTime(_ date: Date, zone: TimeZone) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = zone
    let c = calendar.dateComponents([.hour, .minute, .second], from: date)
    return String(format: "%02d:%02d:%02d", c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
}

/// A date and time, `yyyy-MM-dd HH:mm:ss`, in the given zone.
func formatDateTime(_ date: Date, zone: TimeZone) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = zone
    let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    return String(format: "%04d-%02d-%02d %02d:%02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0,
                  c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
}

/// A count with thousands shortened: `950`, `12.3k`, `4.5M`.
func formatCount(_ n: Int) -> String {
    if n < 10_000 { return "\(n)" }
    if n < 1_000_000 { return String(format: "%.1fk", Double(n) / 1000) }
    return String(format: "%.1fM", Double(n) / 1_000_000)
}

/// Text padded with spaces on the left to `width` characters.
func leftPad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

/// A latency in at most four cells for the table: `0.8`, `12`, `1234`, `12s`, `1.2m`.
func formatCellMs(_ ms: Double?) -> String {
    guard let ms else { return "-" }
    if ms < 10 { return String(format: "%.1f", ms) }
    if ms < 9999.5 { return String(format: "%.0f", ms) }
    if ms < 99_500 { return String(format: "%.0fs", ms / 1000) }
    return String(format: "%.0fm", ms / 60_000)
}

/// A signed latency difference in at most five cells: `+12`, `-3.4`, `+12s`.
func formatCellDeltaMs(_ ms: Double?) -> String {
    guard let ms else { return "-" }
    let sign = ms > 0 ? "+" : ms < 0 ? "-" : ""
    return sign + formatCellMs(abs(ms))
}

/// A log-axis fraction (0...1) of `value` between `low` and `high` (both > 0): equal ratios get equal lengths,
/// so 10 ms and 100 ms bars differ as much as 100 ms and 1 s.
func logFraction(_ value: Double, low: Double, high: Double) -> Double {
    guard value > 0, high > low, low > 0 else { return 0 }
    return min(1, max(0, (log10(max(low, value)) - log10(low)) / (log10(high) - log10(low))))
}
