import Apply
import ArgumentParser
import Autopilot
import Foundation
import TrafficStats

/// `cutover plan pause|resume|promote|abort ID`.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Pause, resume, promote or abort a ramp plan.",
        discussion: "pause holds the bake clock; resume continues it; promote skips the rest of the bake and the gate once; abort rolls the endpoint back (through the apply pipeline), ends the plan and confirms from the logs that the new service gets none of its requests any more (exit 7 when it still does).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var logs: LogOptions
    @Argument(help: "pause, resume, promote or abort.") var action: String
    @Argument(help: "The plan's id (or a unique prefix), as `cutover ramp` printed it.") var id: String
    @Option(name: .long, help: ArgumentHelp("Why: recorded with the transition (and in the journal for abort).", valueName: "TEXT")) var reason: String?
    @Option(name: .customLong("confirm-traffic"), help: ArgumentHelp("abort: after the rollback, watch the logs this long (once the old workers have exited) to confirm the new service gets none of those requests any more; exit 7 when it still does. 0 turns it off.", valueName: "SECONDS"))
    var confirmTraffic: Double = 10

    func validate() throws {
        guard Autopilot.Command(rawValue: action) != nil else { throw ValidationError("the action must be pause, resume, promote or abort (found \(action))") }
        guard confirmTraffic >= 0, confirmTraffic <= 600 else { throw ValidationError("--confirm-traffic must be between 0 and 600 seconds") }
    }

    func run() throws {
        try runReportingErrors {
            let context = try Context.load(global)
            let autopilot = AutopilotWiring.autopilot(context, notify: true)
            let command = Autopilot.Command(rawValue: action) ?? .pause
            // The workers serving before the rollback's reload: the confirmation counts only after they exited.
            let control = context.applier.pipeline.configuration.nginx
            let oldWorkers = command == .abort ? TrafficConfirmation.workers(pidFile: control.masterPidFile ?? control.reloadSignalPidFile) : []
            let (plan, events) = try AutopilotWiring.reporting { try autopilot.perform(command, plan: id, reason: reason) }
            for event in events { autopilot.notifier?.notify(event) }
            for event in events { print(event.line) }
            print("plan \(plan.id): \(plan.state.rawValue)")
            defer { autopilot.notifier?.waitUntilIdle(limit: .seconds(15)) }
            if events.contains(where: { $0.kind == .applyFailed }) { throw ExitCode(CLIError.reverted) }
            if let aborted = events.first(where: { $0.kind == .planAborted }), let journal = aborted.journal, confirmTraffic > 0 {
                try confirm(journal: journal, context: context, oldWorkers: oldWorkers, notifier: autopilot.notifier)
            }
        }
    }

    /// Confirms from the logs that the rollback `journal` took the endpoints off the new service.
    func confirm(journal: String, context: Context, oldWorkers: Set<Int32>, notifier: Notifier?) throws {
        guard let (fresh, endpoints, reloadedAt) = TrafficConfirmation.rolledBack(journal: journal, context: context) else {
            print("traffic: nothing to confirm, no endpoint is at 0% after the rollback")
            return
        }
        guard TrafficConfirmation.hasLogs(context: fresh, logs: logs) else {
            printError("cutover: traffic not confirmed: no access logs to read; set logs: in cutover.yaml or pass --main-log and --migration-log (--confirm-traffic 0 skips the check)")
            throw ExitCode(ExitStatus.trafficNotConfirmed.rawValue)
        }
        let event = ConfirmationJob(context: fresh, logs: logs, endpoints: endpoints, seconds: confirmTraffic, oldWorkers: oldWorkers,
                                    reloadedAt: reloadedAt, journal: journal, notifier: notifier).confirm()
        notifier?.notify(event)
        if event.kind == .rollbackConfirmed {
            print(event.line)
        } else {
            printError("cutover: " + event.line)
            throw ExitCode(ExitStatus.trafficNotConfirmed.rawValue)
        }
    }
}
