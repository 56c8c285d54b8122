import Foundation
import NginxConfig
import Rollout

/// Applies rollout edits through the pipeline: the edit is recomputed on the files as they are once the lock
/// is held, so two Cutover writers never lose each other's changes, while a hand edit made since the preview is
/// refused as a conflict.
public struct EditApplier: Sendable {
    public var pipeline: ApplyPipeline
    /// The config file Cutover operates on.
    public var configPath: String
    /// The include prefix.
    public var prefix: String?
    public var names: RolloutNames

    public init(pipeline: ApplyPipeline, configPath: String, prefix: String?, names: RolloutNames) {
        self.pipeline = pipeline
        self.configPath = configPath
        self.prefix = prefix
        self.names = names
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
        return try pipeline.apply(description: EditApplier.describe(preview, before: previewModel, reason: reason),
                                  emergency: EditApplier.isEmergency(edit)) { description in
            let fresh: ConfigSet
            do {
                fresh = try ConfigSet.load(path: configPath, prefix: prefix)
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
        for record in try pipeline.history().reversed() where record.outcome == .applied {
            if let file = record.files.first(where: { $0.path == path }) { return file.hashAfter == hash }
        }
        return false
    }
}
