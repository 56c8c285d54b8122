import Foundation
import TerminalUI
import TrafficStats

/// The endpoint table's place while the look-back is read: a bar with the lines read, the rate and the seconds left.
enum LookBackPanel {
    /// The sentence under the bar: `1.2M lines read · 2.6M lines/s · about 3 s left · 2 threads`.
    static func summary(_ progress: BackfillProgress) -> String {
        var parts = ["\(formatCount(progress.lines)) lines read"]
        if progress.linesPerSecond > 0 { parts.append("\(formatCount(Int(progress.linesPerSecond)))/s") }
        if let left = progress.secondsLeft {
            parts.append(left < 1 ? "under a second left" : "about \(formatSeconds(left)) left")
        } else {
            parts.append("starting")
        }
        parts.append(progress.threads == 1 ? "1 thread" : "\(progress.threads) threads")
        return parts.joined(separator: " · ")
    }

    /// Seconds as `42 s` or `3 min 20 s`.
    static func formatSeconds(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        return whole < 60 ? "\(whole) s" : "\(whole / 60) min \(whole % 60) s"
    }

    static func render(_ progress: BackfillProgress, theme: Theme, unicode: Bool, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        let width = min(area.width - 2, 72)
        guard width > 4 else { return }
        let x = area.x + (area.width - width) / 2
        let top = area.y + max(0, (area.height - 4) / 2)
        let megabytes = { (bytes: Int64) in String(format: "%.0f", Double(bytes) / 1_048_576) }
        let title = "Reading the look-back: \(megabytes(progress.bytesRead)) of \(megabytes(progress.bytesTotal)) MiB"
        Line([Span(title, style: theme[.title])]).render(in: Rect(x: x, y: top, width: width, height: 1), buffer: &buffer)
        guard top + 1 < area.bottom else { return }
        let percent = "\(Int((progress.fraction * 100).rounded(.down)))%"
        Gauge(ratio: progress.fraction, label: percent, filledStyle: theme[.newService], emptyStyle: theme[.muted], unicode: unicode)
            .render(in: Rect(x: x, y: top + 1, width: width, height: 1), buffer: &buffer)
        guard top + 2 < area.bottom else { return }
        Line([Span(summary(progress), style: theme[.muted])]).render(in: Rect(x: x, y: top + 2, width: width, height: 1), buffer: &buffer)
        guard top + 4 < area.bottom else { return }
        Line([Span("The figures appear when it is read; following goes on from there.", style: theme[.muted])])
            .render(in: Rect(x: x, y: top + 4, width: width, height: 1), buffer: &buffer)
    }
}
