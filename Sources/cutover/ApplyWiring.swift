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
    static func finish(_ report: ApplyReport) -> Int32 {
        print(describe(report))
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
        var lines = ["\(report.outcome.rawValue): \(report.message)"]
        lines.append("validate \(ms(t.validate)), reload \(ms(t.reload)), verify \(ms(t.verify)), write \(ms(t.write)), total \(ms(t.total))")
        if let id = report.record?.id { lines.append("journal: \(id)") }
        return lines.joined(separator: "\n")
    }
}
