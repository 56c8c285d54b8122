import Apply
import ArgumentParser
import Foundation
import Settings

/// `cutover history [--json]`: the journal of attempted changes, newest first (the dashboard's order); `--json`
/// keeps the journal's own order, oldest first.
struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "List the journaled changes (applied, refused, reverted).")

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Print the journal records as JSON.") var json = false
    @Option(name: .long, help: "Show only the last N changes.") var last: Int?

    func run() throws {
        try runReportingErrors {
            let settings: Settings
            do { settings = try Settings.load(explicit: global.settings) } catch {
                throw CLIError(message: "settings: \(error)", code: CLIError.general)
            }
            // With a config (flag or settings), its own journal and only its records.
            var config: String?
            if let path = global.config ?? settings.config {
                config = (try? Context.load(global))?.configPath ?? (path.hasPrefix("/") ? path
                    : FileManager.default.currentDirectoryPath + "/" + path)
            }
            let journal = Journal(path: settings.journalPath(config: config))
            var records: [JournalRecord]
            do { records = try journal.records() } catch {
                throw CLIError(message: "\(error)", code: CLIError.general)
            }
            if let config { records = records.filter { $0.belongs(toConfig: config) } }
            if let last { records = Array(records.suffix(max(0, last))) }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                let data = try encoder.encode(HistoryDocument(journal: journal.path, changes: records))
                print(String(decoding: data, as: UTF8.self))
                return
            }
            if records.isEmpty {
                print("no changes journaled yet (\(journal.path))")
                return
            }
            let formatter = ISO8601DateFormatter()
            for r in records.reversed() {
                let groups = r.change.groups.map { g in HistoryCommand.groupChange(g, before: r.change.percentsBefore[g], after: r.change.percentsAfter[g]) }
                var line = "\(formatter.string(from: r.time))  \(r.outcome.rawValue.padding(toLength: 22, withPad: " ", startingAt: 0)) \(r.change.action)"
                if !r.change.endpoints.isEmpty {
                    line += "  endpoints: " + HistoryCommand.endpointChanges(r.change).prefix(5).joined(separator: ", ")
                        + (r.change.endpoints.count > 5 ? " (+\(r.change.endpoints.count - 5))" : "")
                }
                if !groups.isEmpty { line += "  groups: " + groups.joined(separator: ", ") }
                line += "  by \(r.user)@\(r.host)"
                if let reason = r.change.reason { line += "  reason: \(reason)" }
                if let v = r.validate { line += String(format: "  validate %.0f ms", v.durationMs) }
                if let rl = r.reload { line += String(format: "  reload %.0f ms", rl.durationMs) }
                if let hosts = r.hosts, !hosts.isEmpty { line += "  hosts: " + hosts.map { "\($0.host) \($0.state.rawValue)" }.joined(separator: ", ") }
                print(line)
            }
        }
    }

    /// One group's change as the history line shows it: `g 10%→25%`, `g new at 10%` for a group the change
    /// created, `g removed (was 10%)` for one it removed.
    static func groupChange(_ group: String, before: Double?, after: Double?) -> String {
        switch (before, after) {
        case let (b?, a?): return "\(group) \(trim(b))%→\(trim(a))%"
        case let (nil, a?): return "\(group) new at \(trim(a))%"
        case let (b?, nil): return "\(group) removed (was \(trim(b))%)"
        case (nil, nil): return group
        }
    }

    /// Each endpoint of a change as the history line shows it: its short name, with `10%→0%` when the record keeps
    /// its percents by identity (records before that step name the endpoints only).
    static func endpointChanges(_ change: ChangeDescription) -> [String] {
        guard change.endpointIDs.count == change.endpoints.count else { return change.endpoints }
        return zip(change.endpoints, change.endpointIDs).map { name, id in
            guard let before = change.endpointPercentsBefore[id], let after = change.endpointPercentsAfter[id] else { return name }
            return "\(name) \(trim(before))%→\(trim(after))%"
        }
    }

    static func trim(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(format: "%.2f", v)
    }
}

/// The `history --json` document.
struct HistoryDocument: Encodable {
    var journal: String
    var changes: [JournalRecord]
}

/// `cutover undo`: reverts the last applied change as a new journaled change.
struct UndoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "undo", abstract: "Revert the last applied change (as a new, journaled change).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var edit: EditOptions

    func run() throws {
        try runReportingErrors {
            let context = try Context.load(global, hosts: edit.hosts, scope: .editing)
            let applier = context.applier
            let plan: UndoPlan
            do { plan = try applier.planUndo(reason: edit.reason) } catch let error as ApplyError {
                throw CLIError(message: error.description, code: CLIError.general)
            }
            print("undo \(plan.target.change.action) of \(ISO8601DateFormatter().string(from: plan.target.time)) by \(plan.target.user): "
                  + (plan.target.change.endpoints + plan.target.change.groups).joined(separator: ", "))
            guard EditRunner.previewOrConfirm(plan.planned.changes, options: edit, question: "Apply this undo") else { return }
            let report: ApplyReport
            do { report = try applier.undo(reason: edit.reason) } catch let error as ApplyError {
                throw CLIError(message: error.description, code: error.exitCode)
            }
            let code = ApplyWiring.finish(report, context: context)
            if code != 0 { throw ExitCode(code) }
        }
    }
}
