import ArgumentParser
import Autopilot
import Foundation

/// `cutover plan pause|resume|promote|abort ID`.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Pause, resume, promote or abort a ramp plan.",
        discussion: "pause holds the bake clock; resume continues it; promote skips the rest of the bake and the gate once; abort rolls the endpoint back (through the apply pipeline) and ends the plan.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "pause, resume, promote or abort.") var action: String
    @Argument(help: "The plan's id (or a unique prefix), as `cutover ramp` printed it.") var id: String
    @Option(name: .long, help: ArgumentHelp("Why: recorded with the transition (and in the journal for abort).", valueName: "TEXT")) var reason: String?

    func validate() throws {
        guard Autopilot.Command(rawValue: action) != nil else { throw ValidationError("the action must be pause, resume, promote or abort (found \(action))") }
    }

    func run() throws {
        try runReportingErrors {
            let context = try Context.load(global)
            let autopilot = AutopilotWiring.autopilot(context, notify: true)
            let command = Autopilot.Command(rawValue: action) ?? .pause
            let (plan, events) = try AutopilotWiring.reporting { try autopilot.perform(command, plan: id, reason: reason) }
            for event in events { autopilot.notifier?.notify(event) }
            for event in events { print(event.line) }
            print("plan \(plan.id): \(plan.state.rawValue)")
            autopilot.notifier?.waitUntilIdle(limit: .seconds(15))
            if events.contains(where: { $0.kind == .applyFailed }) { throw ExitCode(CLIError.reverted) }
        }
    }
}
