import Apply
import ArgumentParser
import Foundation
import NginxConfig
import Rollout
import TrafficStats

/// Options every editing command takes.
struct EditOptions: ParsableArguments {
    @Flag(name: .long, help: "Print the change as a unified diff per file and change nothing.") var dryRun = false
    @Flag(name: [.short, .long], help: "Apply without asking (a prompt appears only when stdin is a terminal).") var yes = false
    @Option(name: .long, help: ArgumentHelp("Why: recorded in the journal.", valueName: "TEXT")) var reason: String?
    @Option(name: .long, help: ArgumentHelp("With `hosts:`: apply to these hosts only (a canary first); they must agree with each other.", valueName: "NAME,..."))
    var hosts: String?

    /// Whether `text` is a percent nginx accepts in split_clients: 0 to 100, at most two decimals, at least one
    /// digit (`.` is refused, not read as 0).
    static func isPercent(_ text: String) -> Bool {
        guard let p = Percent(parsing: text) else { return false }
        return p.hundredths <= 10000
    }
}

/// `cutover set ENDPOINT (--group NAME | --percent P)`.
struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Move an endpoint to a group, or to a percent (reusing or creating a group).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var edit: EditOptions
    @Argument(help: "A short name, a key, or any unique part of a key.") var endpoint: String
    @Option(name: .long, help: "The group to move the endpoint to (e.g. group3_routing).") var group: String?
    @Option(name: .long, help: "The new-service percent (0-100, two decimals at most).") var percent: String?
    @OptionGroup var confirm: ConfirmTrafficOptions

    func validate() throws {
        guard (group == nil) != (percent == nil) else { throw ValidationError("give exactly one of --group NAME or --percent P") }
        if let percent, !EditOptions.isPercent(percent) { throw ValidationError("--percent \(percent) is not a percent from 0 to 100 with at most two decimals") }
    }

    func run() throws {
        let change: RolloutEdit
        if let group {
            change = .assign(endpoint: endpoint, group: group)
        } else {
            change = .assignPercent(endpoint: endpoint, percent: Percent(parsing: percent ?? "") ?? .zero)
        }
        try EditRunner.run(change, global: global, options: edit, confirm: confirm)
    }
}

/// `cutover group NAME --percent P [--create]`.
struct GroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "group", abstract: "Set a group's new-service percent, or create a group.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var edit: EditOptions
    @Argument(help: "The group's name (e.g. group3_routing).") var name: String
    @Option(name: .long, help: "The new-service percent (0-100, two decimals at most).") var percent: String
    @Flag(name: .long, help: "Create the group if it does not exist.") var create = false
    @OptionGroup var confirm: ConfirmTrafficOptions

    func validate() throws {
        if !EditOptions.isPercent(percent) { throw ValidationError("--percent \(percent) is not a percent from 0 to 100 with at most two decimals") }
        let bare = name.hasPrefix("$") ? String(name.dropFirst()) : name
        if !NginxVariables.isValidName(bare) {
            throw ValidationError("\"\(name)\" is not a group name nginx can read: use ASCII letters, digits and `_` (e.g. group7_routing)")
        }
    }

    func run() throws {
        try EditRunner.run(.setGroupPercent(group: name, percent: Percent(parsing: percent) ?? .zero, create: create), global: global,
                           options: edit, confirm: confirm)
    }
}

/// `cutover add KEY --target PATH --group NAME`.
struct AddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add an endpoint to the migration list (both maps).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var edit: EditOptions
    @Argument(help: "The map key: an exact path, or a regex starting with ~ (~* for case-insensitive).") var key: String
    @Option(name: .long, help: "Where the new service serves it.") var target: String
    @Option(name: .long, help: "The group it starts in.") var group: String

    func validate() throws {
        if key.isEmpty { throw ValidationError("give the endpoint's map key: an exact path or a regex starting with ~") }
        if MapKey(raw: key).isSpecialParameter {
            throw ValidationError("`\(key)` is a map parameter, not an endpoint key; give the endpoint's path or a regex (`~^/v2/...$`)")
        }
        if target.isEmpty { throw ValidationError("--target is empty; give the path the new service serves the endpoint at") }
    }

    func run() throws {
        try EditRunner.run(.add(key: key, target: target, group: group), global: global, options: edit)
    }
}

/// `cutover remove ENDPOINT`.
struct RemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove an endpoint from the migration list.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var edit: EditOptions
    @Argument(help: "A short name, a key, or any unique part of a key.") var endpoint: String

    func run() throws {
        try EditRunner.run(.remove(endpoint: endpoint), global: global, options: edit)
    }
}

/// `cutover rollback ENDPOINT...` or `cutover rollback --all`.
struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Send endpoints (or everything) back to the current service; `resume` restores them.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var edit: EditOptions
    @Flag(name: .long, help: "Roll back every group in one reversible edit.") var all = false
    @OptionGroup var confirm: ConfirmTrafficOptions
    @Argument(help: "Endpoints to roll back.") var endpoints: [String] = []

    func validate() throws {
        guard all != !endpoints.isEmpty else { throw ValidationError("name endpoints to roll back, or use --all (not both)") }
    }

    func run() throws {
        try EditRunner.run(all ? .rollbackAll : .rollback(endpoints: endpoints), global: global, options: edit, confirm: confirm)
    }
}

/// `cutover resume`.
struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Restore exactly the groups and endpoints the last rollbacks sent back.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var edit: EditOptions

    func run() throws {
        try EditRunner.run(.resume, global: global, options: edit)
    }
}

/// The shared path of every editing command: compute, preview, confirm, apply through the pipeline, report.
enum EditRunner {
    /// `--confirm-traffic`: watches the logs after the change; exits 7 when the traffic contradicts it for an
    /// endpoint whose share it lowered (new-service requests at 0%, or a share clearly above the new percent).
    static func confirmTraffic(_ options: ConfirmTrafficOptions, seconds: Double, preview: EditResult, global: GlobalOptions,
                               drain: WorkerDrain?, reloadedAt: Date) throws {
        let lowered = TrafficConfirmation.lowered(preview.shifts, model: preview.model)
        guard !lowered.isEmpty else {
            print("traffic: nothing to confirm, this change lowers no endpoint's share")
            return
        }
        let context = try Context.load(global)
        let result = try TrafficConfirmation.watch(context: context, logs: options.logs, lowered: lowered, seconds: seconds,
                                                   drain: drain, reloadedAt: reloadedAt)
        if result.confirmed {
            print(result.message)
        } else {
            printError("cutover: " + result.message)
            throw ExitCode(ExitStatus.trafficNotConfirmed.rawValue)
        }
    }

    /// Prints the diffs for `--dry-run` (and returns false), or asks `question` when stdin is a terminal and
    /// `--yes` was not given; true means go ahead.
    static func previewOrConfirm(_ changes: [FileChange], options: EditOptions, question: String) -> Bool {
        if options.dryRun {
            for change in changes {
                print(unifiedDiff(old: change.before, new: change.after, oldName: "a" + change.path, newName: "b" + change.path), terminator: "")
            }
            return false
        }
        guard isatty(STDIN_FILENO) != 0 && !options.yes else { return true }
        print("\(question) (validate, swap in, reload)? [y/N] ", terminator: "")
        guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
            print("not applied")
            return false
        }
        return true
    }

    static func run(_ edit: RolloutEdit, global: GlobalOptions, options: EditOptions, confirm: ConfirmTrafficOptions? = nil) throws {
        try runReportingErrors {
            let context = try Context.load(global, hosts: options.hosts, scope: .editing)
            let preview: EditResult
            do {
                preview = try RolloutEditor(config: context.config, model: context.model).apply(edit)
            } catch let error as EditError {
                throw CLIError(message: error.message, code: CLIError.refused)
            }
            guard !preview.changes.isEmpty else {
                print("nothing to change: the config already says that")
                return
            }
            print(preview.summary)
            guard EditRunner.previewOrConfirm(preview.changes, options: options, question: "Apply this change") else { return }
            let wiring = try ApplyWiring(context: context)
            let control = context.applier.pipeline.configuration.nginx
            // The workers serving before the reload: confirmation counts once they have all exited.
            let drain = WorkerDrain.workers(ofMasterIn: control.masterPidFile ?? control.reloadSignalPidFile)
            let report = try wiring.apply(edit: edit, preview: preview, reason: options.reason)
            let reloadedAt = context.applier.pipeline.clock.now()
            let code = ApplyWiring.finish(report, context: context)
            if code != 0 { throw ExitCode(code) }
            if let confirm, let seconds = confirm.seconds { try confirmTraffic(confirm, seconds: seconds, preview: preview, global: global,
                                                                               drain: drain, reloadedAt: reloadedAt) }
        }
    }
}
