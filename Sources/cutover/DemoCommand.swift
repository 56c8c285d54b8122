import ArgumentParser
import Dashboard
import Foundation

/// `cutover demo`: the dashboard on an embedded sandbox with simulated traffic; needs nothing but Cutover.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Try the dashboard on a sandbox: a routing config and simulated nginx logs in a temp dir.",
        discussion: """
        The simulator appends nginx-format lines at a few hundred requests/s and splits each endpoint's traffic by \
        the percent on disk, so a key press moves the split within seconds. Its "reload" is the simulator re-reading \
        the file; parsing, statistics, editing, validation and the journal are the real code paths.
        """)

    @Option(name: .long, help: ArgumentHelp("Where to write the sandbox (default: a new temp dir).", valueName: "PATH"))
    var dir: String?
    @Option(name: .long, help: ArgumentHelp("The theme.", valueName: "NAME"))
    var theme: String?
    @Option(name: .long, help: ArgumentHelp("Simulated requests per second.", valueName: "N"))
    var rate: Double = 300
    @Flag(name: .long, help: "Disable every key that changes the config.")
    var readOnly = false

    func validate() throws {
        guard rate > 0, rate <= 100_000 else { throw ValidationError("--rate must be between 0 (exclusive) and 100000") }
    }

    func run() throws {
        try runReportingErrors {
            let session: DashboardSession
            do {
                // The one clock of the dashboard, the simulator, the ingest and the pipeline.
                session = try DashboardSession.demo(directory: dir, theme: theme, readOnly: readOnly, rate: rate, clock: .system)
            } catch {
                throw CLIError(message: "\(error)", code: CLIError.general)
            }
            try runOnTerminal(session)
            if let sandbox = session.sandbox { print("cutover demo: the sandbox is in \(sandbox.directory)") }
        }
    }
}
