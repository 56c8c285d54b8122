import Foundation
import TestSupport
import Testing

/// `cutover check` on a routing config whose `access_log` paths are relative: nginx opens them under its
/// prefix (`-p`), so `check` must find them there, whatever directory it runs from.
@Suite struct CheckPrefixCLITests {
    @Test func relativeAccessLogsResolveAgainstNginxsPrefixNotTheWorkingDirectory() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        // The routing config names its logs relative to the prefix; nginx (started with -p) reopens them there.
        let prefix = setup.nginx.prefix + "/"
        let relative = try setup.routingText()
            .replacingOccurrences(of: "access_log \(setup.mainLog)", with: "access_log logs/main.log")
            .replacingOccurrences(of: "access_log \(setup.migrationLog)", with: "access_log logs/migration.log")
        #expect(!relative.contains("access_log " + prefix), "every access_log is relative now")
        try relative.write(toFile: setup.routingPath, atomically: true, encoding: .utf8)
        let old = setup.workers()
        try setup.signal("reload")
        #expect(setup.awaitExit(of: old))
        // Requests so both logs exist with lines in them (nginx writes them, under its prefix).
        let client = HTTPTestClient(port: setup.frontPort)
        for _ in 0..<20 { _ = try client.get("/v2/status/ping") }
        client.closeConnection()
        let deadline = ContinuousClock.now + .seconds(5)
        while !(FileManager.default.fileExists(atPath: setup.migrationLog) && FileManager.default.fileExists(atPath: setup.mainLog)) {
            guard ContinuousClock.now < deadline else { break }
            usleep(10_000)
        }
        #expect(FileManager.default.fileExists(atPath: setup.mainLog), "nginx writes logs/main.log under its prefix")
        #expect(FileManager.default.fileExists(atPath: setup.migrationLog))

        // Run from a directory where `logs/...` does not exist: only nginx's prefix finds them.
        let elsewhere = try TempDir(prefix: "cutover-check-cwd")
        let check = try runCutover(["check", "--config", setup.routingPath, "--settings", setup.settingsPath], cwd: elsewhere.path,
                                   env: ["XDG_STATE_HOME": setup.nginx.directory.file("state"),
                                         "XDG_CONFIG_HOME": setup.nginx.directory.file("state")],
                                   timeout: .seconds(30))
        #expect(!check.stdout.contains("does not exist"), "check reports a log missing that exists:\n\(check.stdout)\n\(check.stderr)")
        #expect(!check.stdout.contains("log-missing"), "\(check.stdout)")
        #expect(check.exitCode == 0 || check.exitCode == 1, "no errors (warnings allowed):\n\(check.stdout)\n\(check.stderr)")
        // The control: a relative log that is not under the prefix is reported, by the path nginx would open.
        let absent = try setup.nginx.write("decoy/routing.conf", relative.replacingOccurrences(of: "access_log logs/main.log",
                                                                                              with: "access_log logs/absent.log"))
        let control = try runCutover(["check", "--config", absent, "--settings", setup.settingsPath], cwd: elsewhere.path,
                                     env: ["XDG_STATE_HOME": setup.nginx.directory.file("state"),
                                           "XDG_CONFIG_HOME": setup.nginx.directory.file("state")],
                                     timeout: .seconds(30))
        #expect(control.stdout.contains("\(setup.nginx.prefix)/logs/absent.log does not exist"), "\(control.stdout)\n\(control.stderr)")
    }
}
