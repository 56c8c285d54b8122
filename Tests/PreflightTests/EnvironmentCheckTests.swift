import Apply
import Foundation
@testable import Preflight
import Rollout
import Testing

@Suite struct EnvironmentCheckTests {
    @Test func healthyEnvironmentOnlyNotesTheVersion() throws {
        let findings = try Fixture.check(try Fixture.recommended)
        let env = findings.filter { $0.location == nil }
        #expect(env.map(\.id) == ["nginx-version"], "\(findings.dump)")
        #expect(env.first?.message == "nginx 1.22.1 (nginx)")
    }

    @Test func missingBinary() throws {
        var probe = try Fixture.healthy()
        probe.unlaunchable = ["nginx"]
        let findings = try Fixture.check(try Fixture.recommended, probe: probe)
        let hit = try #require(findings.with("nginx-missing").first, "\(findings.dump)")
        #expect(hit.severity == .error && hit.location == nil)
        #expect(hit.message.contains("could not run `nginx -v`"), "\(hit)")
        // Without a binary the validate command is not tried.
        #expect(findings.with("validate-failed").isEmpty)
        #expect(PreflightReport.exitCode(findings) == 2)
    }

    @Test func binaryNotFoundBy127() throws {
        var probe = try Fixture.healthy()
        probe.commands[["nginx", "-v"]] = nil
        #expect(try Fixture.check(try Fixture.recommended, probe: probe).ids(.error).contains("nginx-missing"))
    }

    @Test func oldVersionWarns() throws {
        var probe = try Fixture.healthy()
        probe.commands[["nginx", "-v"]] = CommandResult(argv: ["nginx", "-v"], exitCode: 0, stderr: "nginx version: nginx/1.10.3\n")
        let findings = try Fixture.check(try Fixture.recommended, probe: probe)
        #expect(findings.with("nginx-version").first?.severity == .warning, "\(findings.dump)")
    }

    @Test func validateFailureCarriesNginxMessage() throws {
        var probe = try Fixture.healthy()
        probe.commands[["nginx", "-t"]] = CommandResult(argv: ["nginx", "-t"], exitCode: 1,
                                                        stderr: "nginx: [emerg] unknown directive \"mapp\" in /etc/nginx/conf.d/api.conf:3\n")
        let hit = try #require(try Fixture.check(try Fixture.recommended, probe: probe).with("validate-failed").first)
        #expect(hit.message.contains("unknown directive \"mapp\""), "\(hit)")
        #expect(hit.severity == .error)
    }

    @Test func validateUsesTheConfiguredCommand() throws {
        var probe = try Fixture.healthy()
        probe.commands[["sudo", "nginx", "-t"]] = CommandResult(argv: ["sudo", "nginx", "-t"], exitCode: 0)
        probe.commands[["nginx", "-t"]] = nil
        var inputs = Fixture.inputs
        inputs.validateCommand = ["sudo", "nginx", "-t"]
        #expect(try Fixture.check(try Fixture.recommended, probe: probe, inputs: inputs).with("validate-failed").isEmpty)
        inputs.validateCommand = []
        #expect(!(try Fixture.check(try Fixture.recommended, probe: probe, inputs: inputs).with("validate-failed").isEmpty))
    }

    @Test func nonRootCannotSignalTheMaster() throws {
        var probe = try Fixture.healthy()
        probe.euid = 1000
        probe.processes[4242] = .notPermitted
        probe.files[Fixture.pidFile] = FakeProbe.File("4242\n", writable: false)
        let findings = try Fixture.check(try Fixture.recommended, probe: probe)
        let hit = try #require(findings.with("no-privileges").first, "\(findings.dump)")
        #expect(hit.severity == .error && hit.message.contains("pid 4242"), "\(hit)")
        // A reload through sudo gains the privileges itself.
        var inputs = Fixture.inputs
        inputs.reloadCommand = ["sudo", "nginx", "-s", "reload"]
        #expect(try Fixture.check(try Fixture.recommended, probe: probe, inputs: inputs).with("no-privileges").isEmpty)
        // Root may always signal.
        probe.euid = 0
        #expect(try Fixture.check(try Fixture.recommended, probe: probe).with("no-privileges").isEmpty)
    }

    @Test func permissionDeniedFromValidateIsAPrivilegeProblem() throws {
        var probe = try Fixture.healthy()
        probe.commands[["nginx", "-t"]] = CommandResult(argv: ["nginx", "-t"], exitCode: 1,
                                                        stderr: "nginx: [alert] could not open error log file: open() \"/var/log/nginx/error.log\" failed (13: Permission denied)\n")
        let findings = try Fixture.check(try Fixture.recommended, probe: probe)
        #expect(findings.ids(.error).contains("no-privileges"), "\(findings.dump)")
    }

    @Test func pidFromTheConfigsPidDirective() throws {
        let main = """
        pid /run/custom.pid;
        events {}
        http {
        \(try Fixture.recommended)
        }
        """
        var probe = try Fixture.healthy()
        probe.files[Fixture.configPath] = FakeProbe.File("")
        probe.files["/run/custom.pid"] = FakeProbe.File("77\n")
        probe.processes = [77: .signalable]
        probe.commands[["nginx", "-t", "-c", Fixture.configPath]] = CommandResult(argv: [], exitCode: 0)
        var inputs = Fixture.inputs
        inputs.pidFile = nil
        let findings = try Fixture.check(main, probe: probe, inputs: inputs)
        #expect(findings.with("nginx-not-running").isEmpty, "\(findings.dump)")
        // The main config is validated with -c.
        #expect(findings.with("validate-failed").isEmpty, "\(findings.dump)")
    }

    @Test func configFilesMustBeReadableAndWritable() throws {
        var probe = try Fixture.healthy()
        probe.files[Fixture.configPath] = FakeProbe.File("", writable: false)
        var findings = try Fixture.check(try Fixture.recommended, probe: probe)
        #expect(findings.with("config-unwritable").first?.file == Fixture.configPath, "\(findings.dump)")
        probe.files[Fixture.configPath] = FakeProbe.File("")
        probe.files["/etc/nginx/conf.d"] = FakeProbe.File(writable: false, directory: true)
        findings = try Fixture.check(try Fixture.recommended, probe: probe)
        #expect(findings.with("config-unwritable").first?.message.contains("temporary file") == true, "\(findings.dump)")
        probe.files[Fixture.configPath] = FakeProbe.File("", readable: false)
        findings = try Fixture.check(try Fixture.recommended, probe: probe)
        #expect(findings.ids(.error).contains("config-unreadable"), "\(findings.dump)")
    }

    @Test func journalDirectoryMustBeCreatable() throws {
        var probe = try Fixture.healthy()
        var inputs = Fixture.inputs
        // /var/lib/cutover exists and is writable: the journal can be created.
        #expect(try Fixture.check(try Fixture.recommended, probe: probe, inputs: inputs).with("journal-unwritable").isEmpty)
        // /root/.local/state/cutover does not exist and /root is not writable.
        inputs.journal = "/root/.local/state/cutover/journal.jsonl"
        probe.files["/root"] = FakeProbe.File(writable: false, directory: true)
        let hit = try Fixture.check(try Fixture.recommended, probe: probe, inputs: inputs).with("journal-unwritable")
        #expect(hit.first?.message.contains("/root is not writable") == true, "\(hit)")
        // An existing read-only journal.
        inputs.journal = "/var/lib/cutover/journal.jsonl"
        probe.files["/var/lib/cutover/journal.jsonl"] = FakeProbe.File("", writable: false)
        #expect(try Fixture.check(try Fixture.recommended, probe: probe, inputs: inputs).ids(.error).contains("journal-unwritable"))
    }

    @Test func environmentChecksCanBeSkipped() throws {
        var probe = try Fixture.healthy()
        probe.unlaunchable = ["nginx"]
        var inputs = Fixture.inputs
        inputs.checkEnvironment = false
        let findings = try Fixture.check(try Fixture.recommended, probe: probe, inputs: inputs)
        #expect(findings.filter { $0.location == nil }.isEmpty, "\(findings.dump)")
    }

    @Test func systemProbeRunsRealCommandsThroughTheRunner() throws {
        let result = try SystemProbe(clock: .system).run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], timeout: .seconds(5))
        #expect(result.exitCode == 3 && result.stdout == "out\n" && result.stderr == "err\n")
        #expect(throws: CommandLaunchError.self) { try SystemProbe(clock: .system).run(["/nonexistent/nginx", "-v"], timeout: .seconds(5)) }
    }
}
