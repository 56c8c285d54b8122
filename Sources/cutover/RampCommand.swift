import ArgumentParser
import Autopilot
import Foundation
import Rollout

/// `cutover ramp ENDPOINT --steps … --bake …`: creates a ramp plan and prints its id.
struct RampCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ramp",
        abstract: "Create a ramp plan for an endpoint (or a group) and print its id; the guard carries it out.",
        discussion: "Each step advances once its bake time has passed, it has --min-requests new-service requests since it began, and the gate holds; a bad verdict aborts the plan and rolls the endpoint back.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A short name, a key, or any unique part of a key (or use --group).") var endpoint: String?
    @Option(name: .long, help: ArgumentHelp("Ramp this whole group instead of one endpoint.", valueName: "NAME")) var group: String?
    @Option(name: .long, help: ArgumentHelp("The percents, increasing (default: the settings' ladder).", valueName: "P,P,…")) var steps: String?
    @Option(name: .long, help: ArgumentHelp("How long each step bakes (90s, 10m, 2h).", valueName: "DURATION")) var bake: String = "10m"
    @Option(name: .long, help: "healthy (the verdict is healthy) or not-bad (the verdict is not bad).") var gate: String = "healthy"
    @Option(name: .long, help: "New-service requests each step needs since it began.") var minRequests: Int = 500
    @Option(name: .long, help: ArgumentHelp("Why: recorded with every step in the journal.", valueName: "TEXT")) var reason: String?
    @Option(name: .long, help: ArgumentHelp("With `hosts:`: every step goes to these hosts only (a canary); needs --gate not-bad.", valueName: "NAME,..."))
    var hosts: String?

    func validate() throws {
        guard (endpoint == nil) != (group == nil) else { throw ValidationError("give an ENDPOINT or --group NAME (exactly one)") }
        if let steps, Self.parseSteps(steps) == nil {
            throw ValidationError("--steps \(steps) is not a list of percents such as 1,5,10,25,50,100")
        }
        guard DurationText.seconds(bake) != nil else { throw ValidationError("--bake \(bake) is not a duration like 90s, 10m or 2h") }
        guard PlanGate(rawValue: gate) != nil else { throw ValidationError("--gate must be healthy or not-bad") }
        guard minRequests >= 0 else { throw ValidationError("--min-requests must be 0 or more") }
    }

    /// `1,5,10` as percents; nil when a part is no percent.
    static func parseSteps(_ text: String) -> [Percent]? {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "%", with: "") }
        guard !parts.isEmpty else { return nil }
        var out: [Percent] = []
        for part in parts {
            guard EditOptions.isPercent(part), let p = Percent(parsing: part) else { return nil }
            out.append(p)
        }
        return out
    }

    func run() throws {
        try runReportingErrors {
            let context = try Context.load(global, hosts: hosts, scope: .editing)
            let chosen = hosts == nil ? nil : context.selected.map(\.name)
            let ladder = steps.flatMap(Self.parseSteps) ?? context.settings.ladder.map { Percent(hundredths: Int(($0 * 100).rounded())) }
            let autopilot = AutopilotWiring.autopilot(context, notify: false)
            let plan = try AutopilotWiring.reporting {
                try autopilot.create(endpoint: endpoint, group: group, steps: ladder, bakeSeconds: DurationText.seconds(bake) ?? 600,
                                     gate: PlanGate(rawValue: gate) ?? .healthy, minRequests: minRequests, reason: reason, hosts: chosen)
            }
            print(plan.id.raw)
            printError("plan \(plan.id): \(plan.target), steps \(plan.steps.map(\.nginxText).joined(separator: " → ")), bake \(DurationText.format(plan.bakeSeconds)), gate \(plan.gate.rawValue), \(plan.minRequests) new-service requests per step"
                       + (plan.hosts.map { ", on \($0.joined(separator: ", ")) only" } ?? ""))
            printError(AutopilotWiring.executorLine(AutopilotWiring.store(context)))
        }
    }
}
