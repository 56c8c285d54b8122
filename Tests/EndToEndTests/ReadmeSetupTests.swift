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

    /// Runs `command` with bash in a directory of stand-ins; returns the calls they logged, one per line.
    static func run(_ command: String, uid: Int, withSudo: Bool) throws -> (code: Int32, calls: [String]) {
        let dir = try TempDir(prefix: "cutover-readme-setup")
        let bin = dir.path + "/bin", log = dir.path + "/calls.log"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        func tool(_ name: String, _ body: String) throws {
            let path = bin + "/" + name
            try Data("#!/bin/bash\n\(body)\n".utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }
        try tool("apt-get", "echo \"apt-get $*\" >> \(log)")
        try tool("swift", "echo \"swift $*\" >> \(log)")
        try tool("id", "[ \"$1\" = -u ] && echo \(uid) || /usr/bin/id \"$@\"")
        if withSudo { try tool("sudo", "echo \"sudo $*\" >> \(log); \"$@\"") }
        let result = try ProcessRunner().run(["/usr/bin/env", "-i", "PATH=\(bin):/usr/bin:/bin", "HOME=\(dir.path)", "/bin/bash", "-c", command],
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
