import Apply
import Foundation
import TestSupport
import Testing

/// The README's two set-up commands, run with stand-ins for `apt-get`, `swift`, `id` and `sudo` on PATH: as
/// root they must not call sudo (the official Swift images have none), as a user they must install through it.
@Suite struct ReadmeSetupTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("README.md")

    /// The lines of the README's set-up section that install packages.
    static func setupCommands() throws -> [String] {
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try #require(text.range(of: "## Set up on a fresh machine"))
        let end = try #require(text.range(of: "\n## ", range: start.upperBound..<text.endIndex))
        return text[start.upperBound..<end.lowerBound].split(separator: "\n").map(String.init).filter { $0.contains("apt-get install") }
    }

    /// Runs `command` with bash, `apt-get`, `swift`, `id` (and `sudo` when `withSudo`) replaced by shell functions
    /// that log their calls (functions, not files: nothing is executed that a parallel fork could hold open);
    /// returns the exit status and the calls, one per line. PATH holds no sudo.
    static func run(_ command: String, uid: Int, withSudo: Bool) throws -> (code: Int32, calls: [String]) {
        let dir = try TempDir(prefix: "cutover-readme-setup")
        let log = dir.path + "/calls.log"
        var prelude = """
            apt-get() { echo "apt-get $*" >> \(log); }
            swift() { echo "swift $*" >> \(log); }
            id() { if [ "$1" = -u ]; then echo \(uid); else command id "$@"; fi; }
            sudo() { echo "no sudo here" >&2; return 127; }

            """
        if withSudo { prelude += "sudo() { echo \"sudo $*\" >> \(log); \"$@\"; }\n" }
        let empty = dir.path + "/bin"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let result = try ProcessRunner().run(["/usr/bin/env", "-i", "PATH=\(empty)", "HOME=\(dir.path)", "/bin/bash", "-c", prelude + command],
                                             timeout: .seconds(20))
        let calls = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        return (result.exitCode, calls)
    }

    @Test func worksAsRootWithoutSudoAndAsASudoUser() throws {
        let commands = try Self.setupCommands()
        #expect(commands.count == 2)
        for command in commands {
            let root = try Self.run(command, uid: 0, withSudo: false)
            #expect(root.code == 0, "as root without sudo: \(command)")
            #expect(root.calls.first == "apt-get update")
            #expect(root.calls.contains { $0.hasPrefix("apt-get install -y") && $0.contains("libncurses-dev") })
            #expect(root.calls.last?.hasPrefix("swift ") == true)
            #expect(!root.calls.contains { $0.hasPrefix("sudo") })
            let user = try Self.run(command, uid: 1000, withSudo: true)
            #expect(user.code == 0, "as a sudo user: \(command)")
            #expect(user.calls.contains("sudo apt-get update") && user.calls.contains { $0.hasPrefix("sudo apt-get install -y") })
            #expect(user.calls.last?.hasPrefix("swift ") == true, "swift runs as the user, not under sudo")
            #expect(!user.calls.contains { $0.hasPrefix("sudo swift") })
        }
        let ci = try String(contentsOf: Self.readme.deletingLastPathComponent().appendingPathComponent(".ci/run"), encoding: .utf8)
        #expect(ci.split(separator: "\n").contains("swift test"), ".ci/run runs the README's test command")
    }
}
