import Apply
import Foundation
import NginxConfig
import Testing
import TestSupport

/// The two-phase fleet apply with scripted nginx commands: every failure point puts every host back.
@Suite struct FleetPipelineTests {
    static let before = "map $uri $split_group {\n    /a group1;\n}\n"
    static let after = "map $uri $split_group {\n    /a group2;\n}\n"

    /// Three local hosts in their own directories, each with its own scripted nginx (`nginx-edgeN`).
    struct Fleet {
        let dir: TempDir
        let runner: ScriptedRunner
        let targets: [NginxTarget]
        let pipeline: FleetPipeline
        let clock = ManualClock()

        init(hosts: Int = 3, runner: ScriptedRunner = ScriptedRunner()) throws {
            dir = try TempDir(prefix: "cutover-fleet")
            self.runner = runner
            var targets: [NginxTarget] = []
            for n in 1...hosts {
                let name = "edge\(n)"
                try FileManager.default.createDirectory(atPath: dir.file(name), withIntermediateDirectories: true)
                let path = try dir.write("\(name)/routing.conf", FleetPipelineTests.before)
                let control = NginxControl(validateArgv: ["nginx-\(name)", "-t"], reloadArgv: ["nginx-\(name)", "-s", "reload"])
                targets.append(NginxTarget(name: name, configPath: path, control: control, runner: runner))
            }
            self.targets = targets
            let journal = Journal(path: dir.file("journal.jsonl"))
            let configuration = ApplyConfiguration(nginx: targets[0].control, mainConfig: journal.path, journal: journal,
                                                   configPath: "/etc/nginx/routing.conf", fallbackJournals: [])
            // One host after another, so the scripted commands come in a known order.
            pipeline = FleetPipeline(targets: targets, reference: targets[0], configuration: configuration, clock: clock.applyClock,
                                     parallelHosts: false)
        }

        func text(_ host: Int) throws -> String { try dir.read("edge\(host)/routing.conf") }

        func apply() throws -> ApplyReport {
            let change = FileChange(path: targets[0].configPath, before: FleetPipelineTests.before, after: FleetPipelineTests.after)
            return try pipeline.apply(description: ChangeDescription(action: "set-percent")) { _ in ([change], nil) }
        }

        func expect(_ argv: [String], exitCode: Int32 = 0, stderr: String = "") {
            runner.expect(.init(argv, exitCode: exitCode, stderr: stderr))
        }

        func validates(_ hosts: ClosedRange<Int>) { for n in hosts { expect(["nginx-edge\(n)", "-t"]) } }
        func reloads(_ hosts: ClosedRange<Int>) { for n in hosts { expect(["nginx-edge\(n)", "-s", "reload"]) } }
    }

    @Test func allHostsValidateThenAllReload() throws {
        let fleet = try Fleet()
        fleet.validates(1...3)
        fleet.reloads(1...3)
        let report = try fleet.apply()
        fleet.runner.verifyAllRan()
        #expect(report.outcome == .applied)
        #expect(report.exitStatus == .success)
        for n in 1...3 { #expect(try fleet.text(n) == Self.after) }
        // Every host validated before any reload.
        #expect(fleet.runner.commands.prefix(3).allSatisfy { $0.last == "-t" })
        #expect(report.hosts.map(\.state) == [.applied, .applied, .applied])
        let record = try #require(try fleet.pipeline.configuration.journal.records().last)
        #expect(record.hosts?.map(\.host) == ["edge1", "edge2", "edge3"])
        #expect(record.hosts?.allSatisfy { $0.state == .applied && $0.reload?.succeeded == true } == true)
    }

    @Test func validationRefusedOnOneHostRevertsAllWithoutReloading() throws {
        let fleet = try Fleet()
        fleet.validates(1...1)
        fleet.expect(["nginx-edge2", "-t"], exitCode: 1, stderr: "nginx: [emerg] unknown directive \"x\"")
        let report = try fleet.apply()
        fleet.runner.verifyAllRan()
        #expect(report.outcome == .validationRefused)
        #expect(report.exitStatus == .refused)
        for n in 1...3 { #expect(try fleet.text(n) == Self.before) }
        #expect(!fleet.runner.commands.contains { $0.contains("reload") })
        #expect(report.message.contains("refused by validation on edge2"))
        #expect(report.message.contains("unknown directive"))
        // One host after another: edge3 was never written.
        #expect(report.hosts.map(\.state) == [.reverted, .reverted, .untouched])
        #expect(report.hosts[1].failure?.contains("refused by validation") == true)
    }

    @Test func validateThatCannotRunIsNotRunEverywhere() throws {
        let fleet = try Fleet()
        fleet.expect(["nginx-edge1", "-t"], exitCode: 127, stderr: "nginx-edge1: not found")
        let report = try fleet.apply()
        fleet.runner.verifyAllRan()
        #expect(report.outcome == .validationNotRun)
        for n in 1...3 { #expect(try fleet.text(n) == Self.before) }
    }

    @Test func reloadFailureOnTheLastHostRevertsAndReloadsEveryReloadedHost() throws {
        let fleet = try Fleet()
        fleet.validates(1...3)
        fleet.reloads(1...2)
        fleet.expect(["nginx-edge3", "-s", "reload"], exitCode: 1, stderr: "nginx: [error] invalid PID number")
        // The revert: every host that had been reloaded is reloaded on its previous files.
        fleet.reloads(1...3)
        let report = try fleet.apply()
        fleet.runner.verifyAllRan()
        #expect(report.outcome == .reloadFailedReverted)
        #expect(report.exitStatus == .reloadFailedReverted)
        for n in 1...3 { #expect(try fleet.text(n) == Self.before) }
        #expect(report.message.contains("reload failed on edge3"))
        #expect(report.hosts.map(\.state) == [.reverted, .reverted, .reverted])
    }

    @Test func verifyFailureRevertsAll() throws {
        let fleet = try Fleet()
        var targets = fleet.targets
        targets[1].control.verify = [.command(["check-edge2"])]
        targets[1].control.verifyTimeout = .zero
        var pipeline = fleet.pipeline
        pipeline.targets = targets
        fleet.validates(1...3)
        fleet.reloads(1...2)
        fleet.expect(["check-edge2"], exitCode: 1, stderr: "still the old workers")
        fleet.reloads(1...1)
        fleet.expect(["nginx-edge2", "-s", "reload"])
        fleet.expect(["check-edge2"])
        let change = FileChange(path: targets[0].configPath, before: Self.before, after: Self.after)
        let report = try pipeline.apply(description: ChangeDescription(action: "set-percent")) { _ in ([change], nil) }
        fleet.runner.verifyAllRan()
        #expect(report.outcome == .reloadFailedReverted)
        for n in 1...3 { #expect(try fleet.text(n) == Self.before) }
        #expect(report.hosts[1].failure?.contains("did not take effect") == true)
    }

    @Test func unreachableHostBeforeAnyWriteChangesNothing() throws {
        let fleet = try Fleet()
        try FileManager.default.removeItem(atPath: fleet.dir.file("edge3/routing.conf"))
        let report = try fleet.apply()
        #expect(report.outcome == .hostUnreachable)
        #expect(report.exitStatus == .error)
        #expect(fleet.runner.commands.isEmpty)
        for n in 1...2 { #expect(try fleet.text(n) == Self.before) }
        #expect(report.hosts.map(\.state) == [.untouched, .untouched, .untouched])
        #expect(report.hosts[2].failure != nil)
    }

    @Test func aHostThatDiffersIsAConflictAndNothingIsWritten() throws {
        let fleet = try Fleet()
        _ = try fleet.dir.write("edge2/routing.conf", Self.before + "# hand edit\n")
        let report = try fleet.apply()
        #expect(report.outcome == .conflict)
        #expect(report.exitStatus == .conflict)
        #expect(report.message.contains("edge2:"))
        #expect(try fleet.text(1) == Self.before)
    }

    @Test func aHostThatCannotBeRevertedIsListedFirstWithExitSix() throws {
        let fleet = try Fleet()
        let backup = fleet.dir.file("edge2/.routing.conf.cutover-backup")
        fleet.validates(1...3)
        fleet.reloads(1...1)
        // edge2's reload fails, and its backup is gone: that host cannot be put back.
        fleet.runner.expect(.init(["nginx-edge2", "-s", "reload"]) {
            try? FileManager.default.removeItem(atPath: backup)
            return CommandResult(argv: ["nginx-edge2", "-s", "reload"], exitCode: 1, stderr: "reload refused")
        })
        fleet.reloads(1...1)
        let report = try fleet.apply()
        fleet.runner.verifyAllRan()
        #expect(report.outcome == .revertWithheld)
        #expect(report.exitStatus == .needsHands)
        #expect(report.hosts.first?.host == "edge2")
        #expect(report.hosts.first?.state == .needsHands)
        #expect(report.message.hasPrefix("NEEDS HANDS on edge2"))
        #expect(try fleet.text(1) == Self.before)
        #expect(try fleet.text(3) == Self.before)
        #expect(try fleet.text(2) == Self.after)
        let record = try #require(try fleet.pipeline.configuration.journal.records().last)
        #expect(record.outcome == .revertWithheld)
        #expect(record.hosts?.map(\.state) == [.reverted, .needsHands, .reverted])
    }

    @Test func aHandEditDuringTheChangeIsWithheldOnThatHost() throws {
        let fleet = try Fleet()
        let edge3 = fleet.dir.file("edge3/routing.conf")
        fleet.validates(1...2)
        fleet.runner.expect(.init(["nginx-edge3", "-t"]) {
            try? (FleetPipelineTests.after + "# edited meanwhile\n").write(toFile: edge3, atomically: true, encoding: .utf8)
            return CommandResult(argv: ["nginx-edge3", "-t"], exitCode: 1, stderr: "refused")
        })
        let report = try fleet.apply()
        #expect(report.exitStatus == .needsHands)
        #expect(report.hosts.first?.host == "edge3")
        #expect(try fleet.text(1) == Self.before)
        #expect(try fleet.text(3).contains("edited meanwhile"))
    }

    @Test func oldJournalRecordsWithoutHostsStillRead() throws {
        let dir = try TempDir(prefix: "cutover-fleet")
        let line = #"{"change":{"action":"rollback","endpoints":[],"groups":[],"percentsAfter":{},"percentsBefore":{}},"configHashAfter":"a","configHashBefore":"b","files":[],"host":"h","id":"1","message":"m","outcome":"applied","time":"2026-11-01T00:00:00Z","user":"u"}"#
        _ = try dir.write("j.jsonl", line + "\n")
        let records = try Journal(path: dir.file("j.jsonl")).records()
        #expect(records.count == 1)
        #expect(records[0].hosts == nil)
    }
}

/// How commands and files reach a host.
@Suite struct HostTransportTests {
    @Test func sshQuotesEveryWordForTheRemoteShell() {
        let ssh = HostTransport(prefix: ["ssh", "-o", "BatchMode=yes", "deploy@edge1"])
        #expect(ssh.joinsIntoShell)
        #expect(ssh.argv(["cat", "--", "/etc/nginx/it's here.conf"])
                == ["ssh", "-o", "BatchMode=yes", "deploy@edge1", "cat -- '/etc/nginx/it'\\''s here.conf'"])
        #expect(ssh.argv(["sh", "-c", "echo \"$1\"", "sh", "$(rm -rf /)"]).last == "sh -c 'echo \"$1\"' sh '$(rm -rf /)'")
    }

    @Test func kubectlAndNsenterPassArgvAsItIs() {
        let kubectl = HostTransport(prefix: ["kubectl", "exec", "-i", "-n", "edge", "pod/nginx-0", "--"])
        #expect(!kubectl.joinsIntoShell)
        #expect(kubectl.argv(["cat", "--", "/a b"]) == ["kubectl", "exec", "-i", "-n", "edge", "pod/nginx-0", "--", "cat", "--", "/a b"])
        #expect(HostTransport.local.argv(["nginx", "-t"]) == ["nginx", "-t"])
    }

    /// A shell standing in for ssh's remote shell: the joined, quoted words reach `sh` and come back exact.
    @Test func quotedWordsSurviveARealShell() throws {
        let dir = try TempDir(prefix: "cutover-transport")
        let awkward = "a file 'with' $(quotes) \"and\" spaces;|&.conf"
        let path = try dir.write(awkward, "listen 80;\n")
        let shell = NginxTarget(name: "shell", transport: HostTransport(prefix: ["sh", "-c"], joinsIntoShell: true),
                                configPath: path, control: NginxControl(validateArgv: ["true"], reloadArgv: ["true"]))
        #expect(try shell.read(path) == "listen 80;\n")
        let temp = try shell.writeBeside(path, text: "listen 81;\n", id: "0123456789")
        try shell.swapIn(temp: temp, target: path, backup: dir.file(".backup of it"))
        #expect(try dir.read(awkward) == "listen 81;\n")
        #expect(try dir.read(".backup of it") == "listen 80;\n")
        try shell.rename(dir.file(".backup of it"), to: path)
        #expect(try dir.read(awkward) == "listen 80;\n")
        #expect(HostFileStore(target: shell).glob(dir.path + "/a file*") == [path])
        #expect(try shell.resolveSymlinks(path) == path)
    }
}

/// The drift report: hashes per host, the majority, diffs for the others.
@Suite struct DriftReportTests {
    static func routing(_ host: String, _ text: String, extra: String? = nil) throws -> HostRouting {
        var texts = [(path: "/etc/nginx/routing.conf", text: text)]
        if let extra { texts.append((path: "/etc/nginx/routing.d/more.conf", text: extra)) }
        return HostRouting(host: host, configPath: "/etc/nginx/routing.conf", config: try ConfigSet.fromTexts(texts))
    }

    @Test func theOddHostIsDriftedWithADiffAgainstTheMajority() throws {
        let report = DriftReport.compare([try Self.routing("edge1", "a 1;\n"), try Self.routing("edge2", "a 2;\n"),
                                          try Self.routing("edge3", "a 1;\n")])
        #expect(report.drifted == ["edge2"])
        #expect(!report.agrees)
        #expect(report.host("edge1")?.configSHA256 == report.host("edge3")?.configSHA256)
        #expect(report.majoritySHA256 == report.host("edge1")?.configSHA256)
        let drift = try #require(report.host("edge2")?.files.first)
        #expect(drift.path == "/etc/nginx/routing.conf")
        #expect(drift.diff.contains("-a 1;"))
        #expect(drift.diff.contains("+a 2;"))
        #expect(drift.diff.contains("edge1:/etc/nginx/routing.conf"))
    }

    @Test func anExtraFileAndAnUnreadableHostAreDrift() throws {
        let report = DriftReport.compare([try Self.routing("edge1", "a 1;\n"), try Self.routing("edge2", "a 1;\n", extra: "b;\n"),
                                          try Self.routing("edge3", "a 1;\n"),
                                          HostRouting(host: "edge4", configPath: "/etc/nginx/routing.conf", error: "ssh: connect refused")])
        #expect(report.drifted == ["edge2", "edge4"])
        #expect(report.unreachable == ["edge4"])
        #expect(report.host("edge2")?.files.map(\.path) == ["/etc/nginx/routing.d/more.conf"])
        #expect(report.host("edge4")?.configSHA256 == nil)
    }

    @Test func identicalHostsAgree() throws {
        let report = DriftReport.compare([try Self.routing("edge1", "a 1;\n"), try Self.routing("edge2", "a 1;\n")])
        #expect(report.agrees)
        #expect(report.describe().isEmpty)
    }
}

/// A stand-in for a remote host: commands arrive with the prefix `[remote]`, which is stripped before they
/// run here for real, except those `intercept` answers (a scripted nginx, an injected failure).
final class FakeRemoteRunner: CommandRunner, @unchecked Sendable {
    private let lock = NSLock()
    private var ran: [[String]] = []
    let intercept: @Sendable ([String]) -> CommandResult?

    init(intercept: @escaping @Sendable ([String]) -> CommandResult?) {
        self.intercept = intercept
    }

    var commands: [[String]] { lock.withLock { ran } }

    func run(_ argv: [String], timeout: Duration) throws -> CommandResult {
        try run(argv, input: nil, timeout: timeout)
    }

    func run(_ argv: [String], input: [UInt8], timeout: Duration) throws -> CommandResult {
        try run(argv, input: Optional(input), timeout: timeout)
    }

    private func run(_ argv: [String], input: [UInt8]?, timeout: Duration) throws -> CommandResult {
        lock.withLock { ran.append(argv) }
        let command = argv.first == "remote" ? Array(argv.dropFirst()) : argv
        if let answer = intercept(command) { return answer }
        if let input { return try ProcessRunner().run(command, input: input, timeout: timeout) }
        return try ProcessRunner().run(command, timeout: timeout)
    }
}

/// The remote file path (cat, cp -p + stdin, ln, mv through the prefix) inside the two-phase apply.
@Suite struct FleetRemoteTests {
    static func fleet(_ runner: FakeRemoteRunner, parallel: Bool = true) throws -> (TempDir, FleetPipeline, [String]) {
        let dir = try TempDir(prefix: "cutover-fleet-remote")
        var targets: [NginxTarget] = []
        var paths: [String] = []
        for name in ["edge1", "edge2"] {
            try FileManager.default.createDirectory(atPath: dir.file(name), withIntermediateDirectories: true)
            let path = try dir.write("\(name)/routing.conf", FleetPipelineTests.before)
            paths.append(path)
            targets.append(NginxTarget(name: name, transport: HostTransport(prefix: name == "edge2" ? ["remote"] : []), configPath: path,
                                       control: NginxControl(validateArgv: ["nginx-\(name)", "-t"], reloadArgv: ["nginx-\(name)", "-s", "reload"]),
                                       runner: runner))
        }
        let journal = Journal(path: dir.file("journal.jsonl"))
        let configuration = ApplyConfiguration(nginx: targets[0].control, mainConfig: journal.path, journal: journal, fallbackJournals: [])
        return (dir, FleetPipeline(targets: targets, reference: targets[0], configuration: configuration, parallelHosts: parallel), paths)
    }

    static func apply(_ pipeline: FleetPipeline, _ paths: [String]) throws -> ApplyReport {
        let change = FileChange(path: paths[0], before: FleetPipelineTests.before, after: FleetPipelineTests.after)
        return try pipeline.apply(description: ChangeDescription(action: "set-percent")) { _ in ([change], nil) }
    }

    static func nginx(_ argv: [String]) -> CommandResult? {
        argv.first?.hasPrefix("nginx-") == true ? CommandResult(argv: argv, exitCode: 0) : nil
    }

    @Test func aRemoteHostIsWrittenThroughItsPrefix() throws {
        let runner = FakeRemoteRunner(intercept: Self.nginx)
        let (dir, pipeline, paths) = try Self.fleet(runner)
        let report = try Self.apply(pipeline, paths)
        #expect(report.outcome == .applied, "\(report.message)")
        #expect(try dir.read("edge2/routing.conf") == FleetPipelineTests.after)
        #expect(try dir.read("edge1/routing.conf") == FleetPipelineTests.after)
        #expect(try dir.read("edge2/.routing.conf.cutover-backup") == FleetPipelineTests.before)
        let remote = runner.commands.filter { $0.first == "remote" }
        #expect(remote.contains { $0.starts(with: ["remote", "cat", "--", paths[1]]) })
        #expect(remote.contains { $0.contains("cp -p -- \"$1\" \"$2\" && cat > \"$2\" || { rm -f -- \"$2\"; exit 1; }") })
        #expect(remote.contains(["remote", "nginx-edge2", "-t"]))
        #expect(remote.contains(["remote", "nginx-edge2", "-s", "reload"]))
        // Nothing of the candidate is left beside the live file.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("edge2")).filter { $0.contains("cutover-tmp") }.isEmpty)
    }

    @Test func inParallelARefusalOnOneHostRevertsEveryHostUnreloaded() throws {
        let runner = FakeRemoteRunner { argv in
            argv == ["nginx-edge2", "-t"] ? CommandResult(argv: argv, exitCode: 1, stderr: "nginx: [emerg] bad") : FleetRemoteTests.nginx(argv)
        }
        let (dir, pipeline, paths) = try Self.fleet(runner)
        let report = try Self.apply(pipeline, paths)
        #expect(report.outcome == .validationRefused)
        #expect(report.message.contains("[emerg] bad"))
        #expect(try dir.read("edge1/routing.conf") == FleetPipelineTests.before)
        #expect(try dir.read("edge2/routing.conf") == FleetPipelineTests.before)
        #expect(!runner.commands.contains { $0.contains("reload") }, "no host was reloaded")
        #expect(report.hosts.map(\.state) == [.reverted, .reverted])
    }

    @Test func aFailedRemoteSwapPutsTheOtherHostBackBeforeAnyValidation() throws {
        let runner = FakeRemoteRunner { argv in
            if argv.count > 2, argv[2].hasPrefix("ln -f") { return CommandResult(argv: argv, exitCode: 255, stderr: "ssh: connection lost") }
            return FleetRemoteTests.nginx(argv)
        }
        let (dir, pipeline, paths) = try Self.fleet(runner)
        let report = try Self.apply(pipeline, paths)
        #expect(report.outcome == .hostUnreachable)
        #expect(report.exitStatus == .error)
        #expect(report.message.contains("edge2") && report.message.contains("connection lost"), "\(report.message)")
        #expect(try dir.read("edge1/routing.conf") == FleetPipelineTests.before)
        #expect(try dir.read("edge2/routing.conf") == FleetPipelineTests.before)
        #expect(!runner.commands.contains { $0.contains("reload") }, "no host was reloaded")
        #expect(report.hosts.map(\.state) == [.reverted, .untouched])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("edge2")).filter { $0.contains("cutover-tmp") }.isEmpty)
    }

    @Test func aHostThatCannotBeReachedForTheRevertNeedsHands() throws {
        let reloads = Counter()
        let runner = FakeRemoteRunner { argv in
            if argv.first?.hasPrefix("nginx-") == true, argv.last == "reload" {
                reloads.increment()
                if argv.first == "nginx-edge1" && reloads.value == 1 { return CommandResult(argv: argv, exitCode: 1, stderr: "reload refused") }
                return CommandResult(argv: argv, exitCode: 0)
            }
            // After edge1's failed reload, edge2 is gone: its revert (cat, mv) cannot run.
            if argv.first == "mv" || argv.first == "cat", reloads.value > 0 { return CommandResult(argv: argv, exitCode: 255, stderr: "ssh: no route to host") }
            return FleetRemoteTests.nginx(argv)
        }
        let (dir, pipeline, paths) = try Self.fleet(runner, parallel: false)
        let report = try Self.apply(pipeline, paths)
        #expect(report.exitStatus == .needsHands)
        #expect(report.hosts.first?.host == "edge2")
        #expect(report.hosts.first?.state == .needsHands)
        #expect(report.hosts.first?.failure?.contains(".routing.conf.cutover-backup") == true, "\(report.hosts)")
        #expect(report.message.hasPrefix("NEEDS HANDS on edge2"))
        #expect(try dir.read("edge1/routing.conf") == FleetPipelineTests.before)
    }
}

/// A thread-safe counter for scripted answers.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}
