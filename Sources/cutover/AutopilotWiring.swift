import Apply
import Autopilot
import Foundation
import Settings

/// Connects the autopilot commands to a loaded context: the plan store beside the config's journal, the
/// pipeline, the notify command.
enum AutopilotWiring {
    /// The plan store of the context's config.
    static func store(_ context: Context) -> PlanStore {
        PlanStore(journalPath: context.settings.journalPath(config: context.configPath))
    }

    /// The autopilot over the context's pipeline; with `notify`, the settings' notify command is run for events
    /// (its failures printed as `notify-failed` lines).
    static func autopilot(_ context: Context, notify: Bool, report: @escaping @Sendable (AutopilotEvent) -> Void = { printEvent($0) }) -> Autopilot {
        let guardrails = context.settings.guardrails
        var notifier: Notifier?
        if notify, !guardrails.notify.isEmpty {
            notifier = Notifier(argv: guardrails.notify, runner: ProcessRunner(),
                                timeout: .milliseconds(Int64(guardrails.notifyTimeoutSeconds * 1000)), clock: context.clock, report: report)
        }
        let autopilot = Autopilot(applier: context.applier, store: store(context), guardSettings: guardrails, clock: context.clock,
                                  notifier: notifier)
        if context.settings.hasFleet {
            let settings = context.settings, targets = context.targets, path = context.configPath, config = context.config
            autopilot.hostApplier = { names in
                let selected = try settings.selectHosts(names.joined(separator: ","), from: targets)
                guard let reference = selected.first else { throw PlanError("no host is selected") }
                return settings.editApplier(configPath: path, config: config, targets: selected, reference: reference)
            }
        }
        return autopilot
    }

    /// Runs `body`, turning plan errors into a refusal (exit 3) and store errors into an error (exit 1).
    static func reporting<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PlanError {
            throw CLIError(message: error.message, code: CLIError.refused)
        } catch let error as PlanStoreError {
            throw CLIError(message: error.description, code: CLIError.general)
        } catch let error as ApplyError {
            throw CLIError(message: error.description, code: error.exitCode)
        }
    }

    /// Who executes the plans, in a sentence.
    static func executorLine(_ store: PlanStore) -> String {
        if let holder = ExecutorLease.currentHolder(path: store.leasePath) { return "executed by \(holder)" }
        return "no executor is running: start `cutover guard` (see README, \"Running the guard as a service\") to carry the plans out"
    }
}

/// Prints one event as one line (stdout, flushed: journald reads it as it comes).
func printEvent(_ event: AutopilotEvent) {
    print(event.line)
    fflush(nil)
}
