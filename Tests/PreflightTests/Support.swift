import Apply
import Foundation
import NginxConfig
@testable import Preflight
import Rollout
import Testing

/// A scripted environment for the preflight checks: files, commands, processes, user and clock.
struct FakeProbe: PreflightProbe {
    /// One fake file: what the user may do with it, its content and modification time.
    struct File: Sendable {
        var access: PathAccess
        var content: [UInt8]
        var modified: Date

        init(_ content: String = "", readable: Bool = true, writable: Bool = true, directory: Bool = false,
             modified: Date = FakeProbe.epoch) {
            access = PathAccess(exists: true, readable: readable, writable: writable, isDirectory: directory)
            self.content = Array(content.utf8)
            self.modified = modified
        }
    }

    static let epoch = Date(timeIntervalSince1970: 1_795_000_000)

    var files: [String: File] = [:]
    /// Answers by argv; an argv not listed answers 127, like a shell that cannot find the command.
    var commands: [[String]: CommandResult] = [:]
    /// Programs that cannot be started at all (the runner throws).
    var unlaunchable: Set<String> = []
    var processes: [Int32: ProcessState] = [:]
    var euid: UInt32 = 0
    var clock: Date = FakeProbe.epoch

    func run(_ argv: [String], timeout: Duration) throws -> CommandResult {
        if let first = argv.first, unlaunchable.contains(first) { throw CommandLaunchError(argv: argv, errno: ENOENT) }
        return commands[argv] ?? CommandResult(argv: argv, exitCode: 127, stderr: "FakeProbe: unexpected command")
    }

    func access(_ path: String) -> PathAccess { files[path]?.access ?? .missing }

    func status(_ path: String) -> FileStatus? {
        files[path].map { FileStatus(size: Int64($0.content.count), modified: $0.modified) }
    }

    func readTail(_ path: String, maxBytes: Int) throws -> [UInt8] {
        guard let file = files[path], file.access.readable else { throw ProbeReadError(path: path, reason: "Permission denied") }
        return Array(file.content.suffix(maxBytes))
    }

    func process(_ pid: Int32) -> ProcessState { processes[pid] ?? .gone }

    func effectiveUserID() -> UInt32 { euid }

    func now() -> Date { clock }
}

/// Reads fixtures beside this file and runs the checks on them in a healthy fake environment.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static let configPath = "/etc/nginx/conf.d/api.conf"
    static let mainLog = "/var/log/nginx/access.log"
    static let migrationLog = "/var/log/nginx/migration_traffic.log"
    static let pidFile = "/run/nginx.pid"

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    static var recommended: String {
        get throws { try text("recommended.conf") }
    }

    /// A fake machine where everything is fine: nginx 1.22 that validates, root, a live master, fresh logs.
    static func healthy() throws -> FakeProbe {
        let log = try text("timed.log")
        var probe = FakeProbe()
        probe.files[configPath] = FakeProbe.File("")
        probe.files["/etc/nginx/conf.d"] = FakeProbe.File(directory: true)
        probe.files[mainLog] = FakeProbe.File(log, modified: FakeProbe.epoch)
        probe.files[migrationLog] = FakeProbe.File(log, modified: FakeProbe.epoch)
        probe.files[pidFile] = FakeProbe.File("4242\n")
        probe.files["/var/lib/cutover"] = FakeProbe.File(directory: true)
        probe.processes[4242] = .signalable
        probe.commands[["nginx", "-v"]] = CommandResult(argv: ["nginx", "-v"], exitCode: 0, stderr: "nginx version: nginx/1.22.1\n")
        probe.commands[["nginx", "-t"]] = CommandResult(argv: ["nginx", "-t"], exitCode: 0,
                                                        stderr: "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n")
        return probe
    }

    static let inputs = PreflightInputs(pidFile: pidFile, journal: "/var/lib/cutover/journal.jsonl")

    /// Parses `config`, discovers the rollout and runs every check.
    static func check(_ config: String, probe: FakeProbe? = nil, inputs: PreflightInputs = Fixture.inputs) throws -> [Finding] {
        let set = try ConfigSet.fromTexts([(path: configPath, text: config)])
        let model = Discovery.discover(set)
        return Preflight.run(config: set, model: model, inputs: inputs, probe: try probe ?? healthy())
    }
}

extension String {
    /// The text with `target` replaced everywhere; records a test issue when `target` does not occur.
    func replacing(_ target: String, _ replacement: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> String {
        let out = replacingOccurrences(of: target, with: replacement)
        #expect(out != self, "fixture edit found no `\(target)`", sourceLocation: sourceLocation)
        return out
    }
}

extension [Finding] {
    func ids(_ severity: Severity? = nil) -> Set<String> {
        Set(filter { severity == nil || $0.severity == severity }.map(\.id))
    }

    func with(_ id: String) -> [Finding] { filter { $0.id == id } }

    var dump: String { PreflightReport.text(self) }
}
