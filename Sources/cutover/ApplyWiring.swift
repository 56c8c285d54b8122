import Apply
import Foundation
import Rollout

/// Connects an editing command to the apply pipeline and formats what it reports.
struct ApplyWiring {
    var context: Context
    var applier: EditApplier

    init(context: Context) throws {
        self.context = context
        self.applier = context.applier
    }

    func apply(edit: RolloutEdit, preview: EditResult, reason: String?) throws -> ApplyReport {
        do {
            return try applier.apply(edit, preview: preview, previewModel: context.model, reason: reason)
        } catch let error as ApplyError {
            throw CLIError(message: error.description, code: error.exitCode)
        }
    }

    /// Prints the report (a journal problem loudly on stderr too), then ends the process by a signal that
    /// arrived while the change was in flight, or returns the exit status to use.
    static func finish(_ report: ApplyReport, context: Context? = nil) -> Int32 {
        if report.hosts.contains(where: { $0.state == .needsHands }) {
            // A host that could not be put back is said first and loudest, on stderr too.
            for host in report.hosts where host.state == .needsHands {
                printError("cutover: NEEDS HANDS: \(host.host): \(host.failure ?? "could not be reverted")")
            }
        }
        print(describe(report))
        if let context, context.settings.hasFleet, context.selected.count < context.targets.count, let drift = context.driftNow() {
            // A change to some hosts leaves the others behind: say which.
            print(drift.agrees ? "fleet: every host holds the same routing" : "fleet: hosts differ now:\n" + drift.describe())
        }
        if let problem = report.journalProblem {
            printError("cutover: WARNING: \(problem)" + (report.journalPath.map { "; the record is in \($0)" } ?? "; the record was not written anywhere"))
        }
        if let signal = report.signal {
            fflush(nil)
            printError("cutover: \(SignalGuard.name(signal)) arrived during the change; it was \(report.outcome == .applied ? "completed" : "reverted") and journaled first")
            SignalGuard.raisePending(signal)
        }
        return report.exitCode
    }

    /// The outcome, nginx's message when something failed, and the time each step took.
    static func describe(_ report: ApplyReport) -> String {
        let t = report.timings
        func ms(_ d: Duration) -> String { String(format: "%.1f ms", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15) }
        // The pipeline's message often starts with the outcome already ("applied: ..."): say it once.
        let said = report.message.hasPrefix(report.outcome.rawValue + ":") ? report.message : "\(report.outcome.rawValue): \(report.message)"
        var lines = [said]
        // A fleet change: one line per host, the ones needing hands first.
        for host in report.hosts { lines.append("  " + host.summary) }
        lines.append("validate \(ms(t.validate)), reload \(ms(t.reload)), verify \(ms(t.verify)), write \(ms(t.write)), total \(ms(t.total))")
        if let id = report.record?.id { lines.append("journal: \(id)") }
        return lines.joined(separator: "\n")
    }
}
