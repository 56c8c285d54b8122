import Apply
import Foundation
import TestSupport
import Testing

@Suite struct CommandRunnerTests {
    let runner = ProcessRunner()

    @Test func capturesStdoutAndExitStatus() throws {
        let result = try runner.run(["echo", "hello", "world"], timeout: .seconds(5))
        #expect(result.exitCode == 0)
        #expect(result.stdout == "hello world\n")
        #expect(result.succeeded)
    }

    @Test func capturesStderrAndFailure() throws {
        let result = try runner.run(["ls", "/nonexistent-cutover-path"], timeout: .seconds(5))
        #expect(result.exitCode != 0)
        #expect(!result.succeeded)
        #expect(result.stderr.contains("nonexistent-cutover-path"))
        #expect(result.message.contains("nonexistent-cutover-path"))
    }

    @Test func argumentsAreNotInterpretedByAShell() throws {
        let result = try runner.run(["echo", "$HOME", "; ls", "*"], timeout: .seconds(5))
        #expect(result.stdout == "$HOME ; ls *\n")
    }

    @Test func killsOnTimeout() throws {
        let result = try runner.run(["sleep", "10"], timeout: .milliseconds(200))
        #expect(result.timedOut)
        #expect(!result.succeeded)
        #expect(result.duration < .seconds(3))
        #expect(result.summary.contains("timed out"))
    }

    @Test func missingBinaryThrowsAnActionableError() {
        #expect {
            _ = try runner.run(["cutover-no-such-binary"], timeout: .seconds(5))
        } throws: { error in
            guard let launch = error as? CommandLaunchError else { return false }
            return launch.description.contains("cutover-no-such-binary") && launch.description.contains("PATH")
        }
    }

    @Test func readsLargeOutputWithoutDeadlock() throws {
        let dir = try TempDir()
        let big = String(repeating: "0123456789abcdef\n", count: 20_000)
        let path = try dir.write("big", big)
        let result = try runner.run(["cat", path], timeout: .seconds(10))
        #expect(result.stdout == big)
    }

    @Test func scriptedRunnerAnswersInOrder() throws {
        let scripted = ScriptedRunner([
            .init(["nginx", "-t"], exitCode: 0, stderr: "ok"),
            .init(["nginx", "-s", "reload"], exitCode: 1, stderr: "failed"),
        ])
        #expect(try scripted.run(["nginx", "-t"], timeout: .seconds(1)).stderr == "ok")
        #expect(try scripted.run(["nginx", "-s", "reload"], timeout: .seconds(1)).exitCode == 1)
        scripted.verifyAllRan()
        #expect(scripted.commands.count == 2)
    }

    @Test func scriptedRunnerRecordsAnIssueForAnUnexpectedCommand() throws {
        let scripted = ScriptedRunner([.init(["nginx", "-t"])])
        withKnownIssue {
            let result = try scripted.run(["rm", "-rf", "/"], timeout: .seconds(1))
            #expect(result.exitCode == 127)
        }
    }
}
