import Foundation
import NginxConfig
import Rollout

/// Applies rollout edits through the pipeline: the edit is recomputed on the files as they are once the lock
/// is held, so two Cutover writers never lose each other's changes, while a hand edit made since the preview is
/// refused as a conflict. The one entry point of every change (CLI, dashboard, autopilot): to the local nginx
/// through `pipeline`, or, with `hosts:`, to every host of `fleet` all or none.
public struct EditApplier: Sendable {
    /// The local pipeline; with a fleet it still names the journal (`history`) the fleet writes to.
    public var pipeline: ApplyPipeline
    /// The hosts a change goes to, when `hosts:` names a fleet; nil for the one local nginx.
    public var fleet: FleetPipeline?
    /// The config file Cutover operates on (on the fleet's reference host, with a fleet).
    public var configPath: String
    /// The include prefix.
    public var prefix: String?
    public var names: RolloutNames

    public init(pipeline: ApplyPipeline, configPath: String, prefix: String?, names: RolloutNames, fleet: FleetPipeline? = nil) {
        self.pipeline = pipeline
        self.configPath = configPath
        self.prefix = prefix
        self.names = names
        self.fleet = fleet
    }

    /// Changes the configuration (stage reporting, signal handling) of the pipeline and of the fleet alike.
    public mutating func updateConfiguration(_ change: (inout ApplyConfiguration) -> Void) {
        var configuration = pipeline.configuration
        change(&configuration)
        pipeline = ApplyPipeline(configuration: configuration, runner: pipeline.runner, clock: pipeline.clock)
        if var fleet {
            change(&fleet.configuration)
            self.fleet = fleet
        }
    }

    /// Reads the config as it is now (from the fleet's reference host, with a fleet).
    public func loadConfig() throws -> ConfigSet {
        if let fleet {
            return try ConfigSet.load(path: configPath, prefix: prefix, store: fleet.reference.store)
        }
        return try ConfigSet.load(path: configPath, prefix: prefix)
    }

    /// Applies the change `edit` computes under the lock (see `ApplyPipeline.apply(description:emergency:edit:)`),
    /// to the local nginx or to every host of the fleet.
    public func apply(description: ChangeDescription, emergency: Bool = false,
                      edit: (inout ChangeDescription) throws -> [FileChange]) throws -> ApplyReport {
        if let fleet {
            return try fleet.apply(description: description, emergency: emergency) { description in (try edit(&description), nil) }
        }
        return try pipeline.apply(description: description, emergency: emergency, edit: edit)
    }

    /// The journal's records of this config, oldest first.
    public func history() throws -> [JournalRecord] { try pipeline.history() }

    /// The change that reverts the last applied change (read from the reference host, with a fleet).
    public func planUndo(reason: String? = nil) throws -> UndoPlan {
        guard let fleet else { return try pipeline.planUndo(reason: reason) }
        return try pipeline.planUndo(reason: reason) { path in try fleet.reference.read(path) }
    }

    /// Reverts the last applied change as a new journaled change, on the local nginx or every host.
    public func undo(reason: String? = nil) throws -> ApplyReport {
        guard let fleet else { return try pipeline.undo(reason: reason) }
        let preview = try planUndo(reason: reason)
        return try fleet.apply(description: preview.planned.description) { description in
            let plan = try planUndo(reason: reason)
            description = plan.planned.description
            return (plan.planned.changes, plan.target.id)
        }
    }

    /// Makes `hosts` hold exactly `source`'s routing files (`cutover sync --from`), through the fleet's
    /// two-phase apply: each host's own current text is what a revert puts back.
    public func sync(from source: NginxTarget, to hosts: [NginxTarget], reason: String?) throws -> ApplyReport {
        guard var fleet else {
            throw ApplyError.invalidChange("sync needs a fleet: list the hosts under `hosts:` in cutover.yaml")
        }
        fleet.targets = hosts
        fleet.reference = source
        let description = ChangeDescription(action: "sync", reason: reason ?? "sync from \(source.name)")
        return try fleet.apply(description: description, overwriting: true) { _ in
            let config: ConfigSet
            do {
                config = try source.loadConfig()
            } catch {
                throw ApplyError.configUnreadable(path: "\(source.name):\(source.configPath)", reason: "\(error)")
            }
            return (config.order.compactMap { path in config.originals[path].map { FileChange(path: path, before: "", after: $0) } }, nil)
        }
    }

    /// Finishes a change a dead Cutover process left half-way: on the local nginx, or on every host of the fleet.
    public func recoverInterrupted() throws -> ApplyReport? {
        if let fleet { return try fleet.recoverInterrupted() }
        return try pipeline.recoverInterrupted()
    }

    /// The journal-facing description of an edit's result.
    public static func describe(_ result: EditResult, before: RolloutModel, reason: String?) -> ChangeDescription {
        var percentsBefore: [String: Double] = [:], percentsAfter: [String: Double] = [:]
        for name in result.groupsTouched {
            if let g = before.group(named: name) { percentsBefore[g.name] = g.percent.value }
            if let g = result.model.group(named: name) { percentsAfter[g.name] = g.percent.value }
        }
        for shift in result.shifts {
            percentsBefore["endpoint:" + shift.endpoint] = shift.percentBefore.value
            percentsAfter["endpoint:" + shift.endpoint] = shift.percentAfter.value
        }
        return ChangeDescription(action: result.edit.action, endpoints: result.shifts.map(\.endpoint), groups: result.groupsTouched,
                                 percentsBefore: percentsBefore, percentsAfter: percentsAfter, reason: reason,
                                 endpointIDs: result.shifts.compactMap(\.id))
    }

    /// Applies `edit`, whose `preview` was computed from the files as first read.
    public func apply(_ edit: RolloutEdit, preview: EditResult, previewModel: RolloutModel, reason: String?) throws -> ApplyReport {
        let expected = Dictionary(preview.changes.map { ($0.path, $0.before) }, uniquingKeysWith: { a, _ in a })
        return try apply(description: EditApplier.describe(preview, before: previewModel, reason: reason),
                         emergency: EditApplier.isEmergency(edit)) { description in
            let fresh: ConfigSet
            do {
                fresh = try loadConfig()
            } catch {
                throw ApplyError.configUnreadable(path: configPath, reason: "\(error)")
            }
            for (path, before) in expected {
                guard let now = fresh.originals[path], now != before else { continue }
                // Changed since the preview: fine if another Cutover writer did it (the journal says so), else a hand edit.
                if try !journalExplains(path: path, text: now) {
                    throw ApplyError.fileChanged(path: path, diff: unifiedDiff(old: before, new: now, oldName: "a" + path, newName: "b" + path))
                }
            }
            let model = Discovery.discover(fresh, names: names)
            let result: EditResult
            do {
                result = try RolloutEditor(config: fresh, model: model).apply(edit)
            } catch {
                throw ApplyError.editRefused("\(error)")
            }
            description = EditApplier.describe(result, before: model, reason: reason)
            return result.changes
        }
    }

    /// Whether `edit` is an emergency change (a rollback), which bookkeeping must never block.
    public static func isEmergency(_ edit: RolloutEdit) -> Bool {
        switch edit {
        case .rollback, .rollbackAll: return true
        default: return false
        }
    }

    /// Whether the journal's latest applied record for `path` produced exactly `text`.
    func journalExplains(path: String, text: String) throws -> Bool {
        let hash = SHA256.hex(text)
        for record in try history().reversed() where record.outcome == .applied {
            if let file = record.files.first(where: { $0.path == path }) { return file.hashAfter == hash }
        }
        return false
    }
}
