import Apply
import ArgumentParser
import Foundation
import NginxConfig
import Settings

/// `cutover sync --from HOST`: makes the other hosts' routing identical to one host's.
struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Make every other host's routing identical to HOST's (two-phase: all hosts or none).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var edit: EditOptions
    @Option(name: .long, help: ArgumentHelp("The host whose routing the others take.", valueName: "HOST")) var from: String

    func run() throws {
        try runReportingErrors {
            let context = try Context.load(global)
            guard context.settings.hasFleet else {
                throw CLIError(message: "sync needs a fleet: list the hosts under `hosts:` in cutover.yaml", code: ExitStatus.usage.rawValue)
            }
            guard let source = context.targets.first(where: { $0.name == from }) else {
                throw CLIError(message: "--from \(from) is not a host of hosts: (\(context.targets.map(\.name).joined(separator: ", ")))",
                               code: ExitStatus.usage.rawValue)
            }
            let chosen: [NginxTarget]
            do {
                chosen = try context.settings.selectHosts(edit.hosts, from: context.targets)
            } catch {
                throw CLIError(message: "\(error)", code: ExitStatus.usage.rawValue)
            }
            let destinations = chosen.filter { $0.name != source.name }
            let sourceRouting = HostRouting.read(source)
            if let error = sourceRouting.error {
                throw CLIError(message: "cannot read the routing on \(source.name): \(error)", code: CLIError.general)
            }
            var differing: [String] = []
            var diffs: [FileChange] = []
            for target in destinations {
                let routing = HostRouting.read(target)
                let report = DriftReport.compare([sourceRouting, routing])
                if let error = routing.error {
                    differing.append("\(target.name) (unreadable: \(error))")
                } else if report.majoritySHA256 != routing.configSHA256 || report.hosts.contains(where: \.drift) {
                    differing.append(target.name)
                    for (key, text) in sourceRouting.texts.sorted(by: { $0.key < $1.key }) where routing.texts[key] != text {
                        diffs.append(FileChange(path: "\(target.name):" + (routing.paths[key] ?? target.path(sourceRouting.paths[key] ?? key, from: source)),
                                                before: routing.texts[key] ?? "", after: text))
                    }
                }
            }
            guard !differing.isEmpty else {
                print("nothing to change: \(destinations.map(\.name).joined(separator: ", ")) already hold \(source.name)'s routing")
                return
            }
            print("sync from \(source.name) to \(differing.joined(separator: ", "))")
            guard EditRunner.previewOrConfirm(diffs, options: edit, question: "Make them identical to \(source.name)") else { return }
            let report: ApplyReport
            do {
                report = try context.applier.sync(from: source, to: destinations, reason: edit.reason)
            } catch let error as ApplyError {
                throw CLIError(message: error.description, code: error.exitCode)
            }
            var code = ApplyWiring.finish(report)
            if let drift = context.driftNow() {
                print(drift.agrees ? "fleet: every host holds the same routing" : "fleet: hosts differ now:\n" + drift.describe())
                if code == 0 && !drift.agrees && edit.hosts == nil { code = CLIError.conflict }
            }
            if code != 0 { throw ExitCode(code) }
        }
    }
}
