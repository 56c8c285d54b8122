import ArgumentParser
import Autopilot
import Foundation
import Rollout

/// `cutover plans [--json]`: the ramp plans with their step, state, bake, gate and what each waits for.
struct PlansCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plans", abstract: "List the ramp plans and who executes them.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Print the stable JSON document (see README).") var json = false
    @Flag(name: .long, help: "Include completed and aborted plans.") var all = false

    func run() throws {
        try runReportingErrors {
            let context = try Context.load(global)
            let store = AutopilotWiring.store(context)
            let plans = try AutopilotWiring.reporting { try store.plans() }.filter { all || $0.state.isActive }
            let holder = ExecutorLease.currentHolder(path: store.leasePath)
            // The executor's view counts only while it runs.
            let progress = holder == nil ? [:] : Dictionary((store.progress()?.plans ?? []).map { ($0.plan, $0) }, uniquingKeysWith: { a, _ in a })
            let now = context.clock.now()
            if json {
                print(Self.json(plans, progress: progress, holder: holder, now: now).serialized())
                return
            }
            print(AutopilotWiring.executorLine(store))
            guard !plans.isEmpty else {
                print(all ? "no plans" : "no active plans (--all lists finished ones too)")
                return
            }
            print("")
            print(RoutesReport.table(["ID", "TARGET", "STEP", "PERCENT", "STATE", "BAKE LEFT", "GATE", "WAITING FOR"], plans.map { p in
                let live = p.state == .running || p.state == .paused
                return [p.id.raw, Self.target(p), p.step.map { "\($0 + 1)/\(p.steps.count)" } ?? "-/\(p.steps.count)",
                        p.percent?.nginxText ?? "-", p.state.rawValue,
                        live ? DurationText.format(p.bakeLeft(at: now)) : "-",
                        "\(p.gate.rawValue): \(progress[p.id]?.gate ?? "-")",
                        p.state.isActive ? (progress[p.id]?.waiting ?? (holder == nil ? "an executor (`cutover guard`)" : p.note ?? "the next check")) : (p.note ?? "-")]
            }), terminator: "")
        }
    }

    static func target(_ p: RampPlan) -> String {
        switch p.target {
        case .endpoint(let key): return key + (p.group.map { " (\($0))" } ?? "") + onHosts(p)
        case .group(let name): return "group " + name + onHosts(p)
        }
    }

    /// ` on edge1` for a plan limited to some hosts.
    static func onHosts(_ p: RampPlan) -> String {
        p.hosts.map { " on " + $0.joined(separator: ",") } ?? ""
    }

    /// The `plans --json` document: `executor` and `plans` (id, endpoint, group, step, steps, percent, state,
    /// bake_left_seconds, gate, gate_status, waiting, note, created, reason, and hosts: null for every host).
    static func json(_ plans: [RampPlan], progress: [PlanID: PlanProgress], holder: LeaseHolder?, now: Date) -> JSON {
        let iso = ISO8601DateFormatter()
        let executor: JSON = holder.map { h in
            .object([("pid", .int(Int(h.pid))), ("role", .string(h.role)), ("user", .string(h.user)), ("host", .string(h.host)),
                     ("since", .string(iso.string(from: h.since)))])
        } ?? .null
        return .object([
            ("executor", executor),
            ("plans", .array(plans.map { p in
                var endpoint: String?
                var group = p.group
                switch p.target {
                case .endpoint(let key): endpoint = key
                case .group(let name): group = name
                }
                let live = p.state == .running || p.state == .paused
                return .object([
                    ("id", .string(p.id.raw)), ("endpoint", .optional(endpoint, JSON.string)), ("group", .optional(group, JSON.string)),
                    ("step", .optional(p.step) { .int($0 + 1) }), ("steps", .array(p.steps.map { JSON.number($0.value) })),
                    ("percent", .optional(p.percent) { .number($0.value) }), ("state", .string(p.state.rawValue)),
                    ("bake_seconds", .number(p.bakeSeconds)), ("bake_left_seconds", live ? .number(p.bakeLeft(at: now), places: 0) : .null),
                    ("gate", .string(p.gate.rawValue)), ("min_requests", .int(p.minRequests)),
                    ("gate_status", .optional(progress[p.id]?.gate, JSON.string)), ("waiting", .optional(progress[p.id]?.waiting, JSON.string)),
                    ("note", .optional(p.note, JSON.string)), ("reason", .optional(p.reason, JSON.string)),
                    ("created", .string(iso.string(from: p.created))), ("created_by", .string(p.createdBy)),
                    ("hosts", .optional(p.hosts) { .array($0.map(JSON.string)) }),
                ])
            })),
        ])
    }
}
