import Apply
import Foundation
import NginxConfig
import Rollout

/// The demo's "nginx": a command runner that answers the apply pipeline's validate and reload commands
/// itself, with Cutover's own parser and nginx's `split_clients` rules, and by having the simulator re-read
/// the config.
///
/// It understands `["cutover-demo", "validate", PATH]` and `["cutover-demo", "reload"]`; any other argv
/// fails as a command that could not be started.
public struct DemoCommandRunner: CommandRunner {
    /// The argv the pipeline runs to validate.
    public static func validateArgv(_ configPath: String) -> [String] { ["cutover-demo", "validate", configPath] }
    /// The argv the pipeline runs to reload.
    public static let reloadArgv = ["cutover-demo", "reload"]

    /// The simulator that follows the config.
    public let simulator: TrafficSimulator
    /// The pattern's names.
    public let names: RolloutNames
    private let monotonic: @Sendable () -> Duration

    /// Creates a runner for a simulator.
    public init(simulator: TrafficSimulator, names: RolloutNames = RolloutNames(),
                monotonic: @escaping @Sendable () -> Duration = ApplyClock.system.monotonic) {
        self.simulator = simulator
        self.names = names
        self.monotonic = monotonic
    }

    public func run(_ argv: [String], timeout: Duration) throws -> CommandResult {
        let start = monotonic()
        switch argv.count >= 2 && argv[0] == "cutover-demo" ? argv[1] : nil {
        case "validate" where argv.count == 3:
            let (ok, message) = DemoCommandRunner.validate(path: argv[2], names: names)
            return CommandResult(argv: argv, exitCode: ok ? 0 : 1, stderr: message, duration: monotonic() - start)
        case "reload" where argv.count == 2:
            do {
                try simulator.reload()
                return CommandResult(argv: argv, exitCode: 0, duration: monotonic() - start)
            } catch {
                return CommandResult(argv: argv, exitCode: 1, stderr: "nginx: [emerg] \(error)", duration: monotonic() - start)
            }
        default:
            throw CommandLaunchError(argv: argv, errno: ENOENT)
        }
    }

    /// Checks a config as `nginx -t` would for this pattern: it parses, and no group breaks nginx's rules;
    /// returns whether it passed and nginx-like messages.
    public static func validate(path: String, names: RolloutNames) -> (Bool, String) {
        let config: ConfigSet
        do {
            config = try ConfigSet.load(path: path)
        } catch {
            return (false, "nginx: [emerg] \(error)\nnginx: configuration file \(path) test failed")
        }
        let model = Discovery.discover(config, names: names)
        var errors = model.problems.filter { $0.severity == .error }
        for group in model.groups {
            for problem in SplitRules.check(group, names: names) where problem.severity == .error && !errors.contains(problem) {
                errors.append(problem)
            }
        }
        if let first = errors.first {
            return (false, "nginx: [emerg] \(first.message) in \(first.location)\nnginx: configuration file \(path) test failed")
        }
        return (true, "nginx: the configuration file \(path) syntax is ok\nnginx: configuration file \(path) test is successful")
    }
}

/// The demo's directory: the routing config and the two logs the simulator appends to.
public struct DemoSandbox: Sendable {
    /// The directory.
    public var directory: String
    /// The routing config.
    public var configPath: String
    /// The main log (current service).
    public var mainLog: String
    /// The migration log (new service).
    public var migrationLog: String

    /// Writes a fresh sandbox into `directory` (created when missing), or into a new temp dir when nil:
    /// the config in the reference pattern and empty logs.
    public static func create(in directory: String?, scenario: DemoScenario = .standard) throws -> DemoSandbox {
        let fm = FileManager.default
        let dir: String
        if let directory {
            dir = directory.hasPrefix("/") ? directory : fm.currentDirectoryPath + "/" + directory
        } else {
            let base = fm.temporaryDirectory.resolvingSymlinksInPath().path
            dir = base + "/cutover-demo-" + UUID().uuidString.prefix(8).lowercased()
        }
        do {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw DashboardError("cannot create the demo directory \(dir): \(error.localizedDescription); pass a writable --dir")
        }
        let resolved = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        let sandbox = DemoSandbox(directory: resolved, configPath: resolved + "/cutover-demo.conf",
                                  mainLog: resolved + "/main.log", migrationLog: resolved + "/migration.log")
        do {
            try Data(scenario.configText(directory: resolved).utf8).write(to: URL(fileURLWithPath: sandbox.configPath))
            try Data().write(to: URL(fileURLWithPath: sandbox.mainLog))
            try Data().write(to: URL(fileURLWithPath: sandbox.migrationLog))
        } catch {
            throw DashboardError("cannot write the demo files in \(resolved): \(error.localizedDescription); pass a writable --dir")
        }
        return sandbox
    }
}

/// Why the dashboard could not start, with what to do about it.
public struct DashboardError: Error, CustomStringConvertible, Equatable {
    /// The message.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
