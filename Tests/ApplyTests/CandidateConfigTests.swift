import Apply
import Foundation
import NginxConfig
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The candidate tree `nginx -t -c` checks beside the live files.
@Suite struct CandidateConfigTests {
    static func plan(_ dir: TempDir, main: String = "nginx.conf", changed: [(String, String)], id: String = "0123456789abcdef") throws -> CandidateConfig {
        let entries = try changed.map { name, text -> CandidateConfig.Changed in
            let path = dir.file(name)
            let candidate = AtomicFilesPath.beside(path, "cutover-tmp-test")
            try text.write(toFile: candidate, atomically: false, encoding: .utf8)
            return CandidateConfig.Changed(path: path, resolved: (path as NSString).resolvingSymlinksInPath, candidate: candidate, text: text)
        }
        let target = NginxTarget(name: "local", configPath: dir.file(main), control: NginxControl(validateArgv: [], reloadArgv: []))
        return try CandidateConfig.plan(mainConfig: dir.file(main), changed: entries, store: LocalFileStore(),
                                        resolve: { target.resolveSymlinks($0) }, id: id)
    }

    @Test func aGlobIncludeOfTheChangedFileBecomesOneIncludePerFileOnTheSameLine() throws {
        let dir = try TempDir(prefix: "cutover-candidate")
        _ = try dir.write("nginx.conf", "events {}\nhttp {\n    include conf.d/*.conf; # the sites\n    include mime.types;\n}\n")
        _ = try dir.write("mime.types", "types {}\n")
        try FileManager.default.createDirectory(atPath: dir.file("conf.d"), withIntermediateDirectories: true)
        _ = try dir.write("conf.d/a.conf", "# a\n")
        _ = try dir.write("conf.d/routing.conf", "# before\n")
        let plan = try Self.plan(dir, changed: [("conf.d/routing.conf", "# after\n")])
        let candidate = AtomicFilesPath.beside(dir.file("conf.d/routing.conf"), "cutover-tmp-test")
        #expect(plan.missing.isEmpty)
        #expect(plan.main == dir.file(".nginx.conf.cutover-candidate-01234567"))
        #expect(plan.copies.count == 1)
        let copy = try #require(plan.copies.first)
        #expect(copy.live == dir.file("nginx.conf"))
        #expect(copy.path == plan.main)
        // Line numbers are kept: the include stays on line 3; files it did not match stay as written.
        #expect(copy.text == "events {}\nhttp {\n    include \(dir.file("conf.d/a.conf")); include \(candidate); # the sites\n"
                + "    include mime.types;\n}\n")
        #expect(plan.translate("nginx: [emerg] unexpected \"}\" in \(candidate):3")
                == "nginx: [emerg] unexpected \"}\" in \(dir.file("conf.d/routing.conf")) (candidate):3")
        #expect(plan.translate("in \(plan.main):4") == "in \(dir.file("nginx.conf")) (candidate):4")
    }

    @Test func everyFileOnTheWayToTheChangedFileGetsACopy() throws {
        let dir = try TempDir(prefix: "cutover-candidate")
        _ = try dir.write("nginx.conf", "events {}\nhttp {\n    include sites/*.conf;\n}\n")
        try FileManager.default.createDirectory(atPath: dir.file("sites"), withIntermediateDirectories: true)
        _ = try dir.write("sites/other.conf", "# untouched\n")
        let routing = try dir.write("routing.conf", "# before\n")
        _ = try dir.write("sites/api.conf", "server {\n    include \(routing);\n}\n")
        let plan = try Self.plan(dir, changed: [("routing.conf", "# after\n")])
        #expect(plan.missing.isEmpty)
        #expect(plan.copies.map(\.live) == [dir.file("nginx.conf"), dir.file("sites/api.conf")])
        let api = dir.file("sites/.api.conf.cutover-candidate-01234567")
        #expect(plan.copies[0].text.contains("include \(api);"))
        #expect(plan.copies[0].text.contains("include \(dir.file("sites/other.conf"));"))
        #expect(plan.copies[1].text.contains("include \(AtomicFilesPath.beside(routing, "cutover-tmp-test"));"))
    }

    @Test func aChangedMainConfigIsItsOwnCandidate() throws {
        let dir = try TempDir(prefix: "cutover-candidate")
        _ = try dir.write("nginx.conf", "events {}\nhttp {}\n")
        let plan = try Self.plan(dir, changed: [("nginx.conf", "events {}\nhttp { }\n")])
        #expect(plan.main == AtomicFilesPath.beside(dir.file("nginx.conf"), "cutover-tmp-test"))
        #expect(plan.copies.isEmpty)
    }

    @Test func aFileIncludedThroughASymlinkIsFoundAndOneNotIncludedIsMissing() throws {
        let dir = try TempDir(prefix: "cutover-candidate")
        try FileManager.default.createDirectory(atPath: dir.file("available"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("enabled"), withIntermediateDirectories: true)
        _ = try dir.write("available/api.conf", "# before\n")
        _ = try dir.write("stray.conf", "# not included\n")
        try FileManager.default.createSymbolicLink(atPath: dir.file("enabled/api.conf"), withDestinationPath: dir.file("available/api.conf"))
        _ = try dir.write("nginx.conf", "events {}\nhttp {\n    include enabled/*.conf;\n}\n")
        let plan = try Self.plan(dir, changed: [("available/api.conf", "# after\n")])
        #expect(plan.missing.isEmpty)
        #expect(plan.copies.first?.text.contains(AtomicFilesPath.beside(dir.file("available/api.conf"), "cutover-tmp-test")) == true)
        let stray = try Self.plan(dir, changed: [("stray.conf", "# after\n")])
        #expect(stray.missing == [dir.file("stray.conf")])
    }
}

/// Candidate and temp names as the pipeline makes them, for the tests.
enum AtomicFilesPath {
    static func beside(_ path: String, _ suffix: String) -> String {
        (path as NSString).deletingLastPathComponent + "/." + (path as NSString).lastPathComponent + "." + suffix
    }
}

/// Hosts whose validate command names their main config: the change is validated beside the live files, the
/// intent names every host's files, and a dead process's fleet change is put back by the next command.
@Suite struct FleetCandidateTests {
    static let before = "map $uri $split_group {\n    /a group1;\n}\n"
    static let after = "map $uri $split_group {\n    /a group2;\n}\n"

    struct Fleet {
        let dir: TempDir
        let runner: FakeRemoteRunner
        let pipeline: FleetPipeline
        var mains: [String] = []
        var routings: [String] = []

        init(_ intercept: @escaping @Sendable ([String]) -> CommandResult?) throws {
            dir = try TempDir(prefix: "cutover-fleet-candidate")
            runner = FakeRemoteRunner(intercept: intercept)
            var targets: [NginxTarget] = []
            for name in ["edge1", "edge2"] {
                try FileManager.default.createDirectory(atPath: dir.file(name), withIntermediateDirectories: true)
                let routing = try dir.write("\(name)/routing.conf", FleetCandidateTests.before)
                let main = try dir.write("\(name)/nginx.conf", "events {}\nhttp {\n    include \(routing);\n}\n")
                var control = NginxControl(validateArgv: ["nginx-\(name)", "-c", main, "-t"], reloadArgv: ["nginx-\(name)", "-s", "reload"])
                control.mainConfig = main
                targets.append(NginxTarget(name: name, configPath: routing, control: control, runner: runner))
                mains.append(main)
                routings.append(routing)
            }
            let journal = Journal(path: dir.file("journal.jsonl"))
            let configuration = ApplyConfiguration(nginx: targets[0].control, mainConfig: journal.path, journal: journal, fallbackJournals: [])
            pipeline = FleetPipeline(targets: targets, reference: targets[0], configuration: configuration, parallelHosts: false)
        }

        func apply() throws -> ApplyReport {
            let change = FileChange(path: routings[0], before: FleetCandidateTests.before, after: FleetCandidateTests.after)
            return try pipeline.apply(description: ChangeDescription(action: "set-percent")) { _ in ([change], nil) }
        }

        /// Files Cutover left in a host's directory.
        func leftovers(_ host: String) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: dir.file(host)).filter { $0.contains("cutover-tmp") || $0.contains("cutover-candidate") }
        }
    }

    /// The path the one `include` of a candidate main config names.
    static func includedPath(_ text: String) -> String {
        guard let line = text.split(separator: "\n").first(where: { $0.contains("include ") }) else { return "" }
        return line.split(separator: " ").last.map { String($0.dropLast()) } ?? ""
    }

    static func inode(_ path: String) -> UInt64 {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : 0
    }

    @Test func nginxTChecksACandidateMainConfigWhileTheLiveFilesStayAsTheyWere() throws {
        let seen = LockedBox<[String]>([])
        let fleetBox = LockedBox<Fleet?>(nil)
        let fleet = try Fleet { argv in
            guard let name = argv.first, name.hasPrefix("nginx-") else { return nil }
            guard let f = fleetBox.value else { return CommandResult(argv: argv, exitCode: 70, stderr: "no fleet") }
            let host = name == "nginx-edge1" ? 0 : 1
            let live = (try? String(contentsOfFile: f.routings[host], encoding: .utf8)) ?? ""
            if argv.last == "-t" {
                let main = argv[2]
                let text = (try? String(contentsOfFile: main, encoding: .utf8)) ?? "(unreadable)"
                let included = FleetCandidateTests.includedPath(text)
                let candidate = (try? String(contentsOfFile: included, encoding: .utf8)) ?? "(unreadable)"
                seen.value.append("validate \(name): main is the live one: \(main == f.mains[host]); live: \(live == FleetCandidateTests.before ? "before" : "after"); candidate: \(candidate == FleetCandidateTests.after ? "after" : candidate)")
            } else {
                seen.value.append("reload \(name): live: \(live == FleetCandidateTests.after ? "after" : "before")")
            }
            return CommandResult(argv: argv, exitCode: 0)
        }
        fleetBox.value = fleet
        let inodes = fleet.routings.map(Self.inode)
        let report = try fleet.apply()
        #expect(report.outcome == .applied, "\(report.message)")
        #expect(seen.value == [
            "validate nginx-edge1: main is the live one: false; live: before; candidate: after",
            "validate nginx-edge2: main is the live one: false; live: before; candidate: after",
            "reload nginx-edge1: live: after",
            "reload nginx-edge2: live: after",
        ])
        for routing in fleet.routings { #expect(try String(contentsOfFile: routing, encoding: .utf8) == Self.after) }
        // The candidate is what went live (renamed over the live file), and nothing of Cutover's is left.
        #expect(fleet.routings.map(Self.inode) != inodes)
        #expect(try fleet.leftovers("edge1").isEmpty && fleet.leftovers("edge2").isEmpty)
        let record = try #require(try fleet.pipeline.configuration.journal.records().last)
        #expect(record.hosts?.first?.validate?.command.joined(separator: " ").contains(".nginx.conf.cutover-candidate-") == true, "\(String(describing: record.hosts))")
    }

    @Test func aRefusedCandidateNeverTouchesALiveFileAndNginxsWordsNameTheLiveFile() throws {
        let fleetBox = LockedBox<Fleet?>(nil)
        let fleet = try Fleet { argv in
            guard argv.first?.hasPrefix("nginx-") == true else { return nil }
            if argv == ["nginx-edge2", "-c", argv[2], "-t"] {
                let included = FleetCandidateTests.includedPath((try? String(contentsOfFile: argv[2], encoding: .utf8)) ?? "")
                return CommandResult(argv: argv, exitCode: 1, stderr: "nginx: [emerg] invalid number of arguments in \(included):2")
            }
            return CommandResult(argv: argv, exitCode: 0)
        }
        fleetBox.value = fleet
        let inodes = fleet.routings.map(Self.inode)
        let report = try fleet.apply()
        #expect(report.outcome == .validationRefused)
        #expect(report.message.contains("in \(fleet.routings[1]) (candidate):2"), "\(report.message)")
        // Never swapped in anywhere: the live files are the same files, and no host was written.
        #expect(fleet.routings.map(Self.inode) == inodes)
        #expect(report.hosts.map(\.state) == [.untouched, .untouched])
        #expect(!fleet.runner.commands.contains { $0.last == "reload" })
        #expect(try fleet.leftovers("edge1").isEmpty && fleet.leftovers("edge2").isEmpty)
    }

    @Test func theIntentNamesEveryHostWhileTheChangeIsInFlight() throws {
        let intents = LockedBox<[ApplyIntent?]>([])
        let dirBox = LockedBox<String>("")
        let fleet = try Fleet { argv in
            guard argv.first?.hasPrefix("nginx-") == true else { return nil }
            if argv.last == "reload" {
                let data = FileManager.default.contents(atPath: dirBox.value)
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .iso8601
                intents.value.append(data.flatMap { try? decoder.decode(ApplyIntent.self, from: $0) })
            }
            return CommandResult(argv: argv, exitCode: 0)
        }
        dirBox.value = fleet.pipeline.configuration.intentFile
        let report = try fleet.apply()
        #expect(report.outcome == .applied)
        #expect(intents.value.count == 2)
        let intent = try #require(intents.value.first ?? nil)
        #expect(intent.hosts?.map(\.host) == ["edge1", "edge2"])
        #expect(intent.hosts?.map { $0.files.map(\.target) } == fleet.routings.map { [$0] })
        #expect(!FileManager.default.fileExists(atPath: fleet.pipeline.configuration.intentFile), "removed once journaled")
    }

    @Test func aDeadProcesssFleetChangeIsPutBackOnEveryHostByTheNextCommand() throws {
        let fleet = try Fleet { argv in argv.first?.hasPrefix("nginx-") == true ? CommandResult(argv: argv, exitCode: 0) : nil }
        // As a process killed after swapping both hosts leaves it: the change's text, the backups, the intent.
        var hosts: [ApplyIntent.HostFiles] = []
        for (index, routing) in fleet.routings.enumerated() {
            let backup = AtomicFilesPath.beside(routing, "cutover-backup")
            try Self.before.write(toFile: backup, atomically: false, encoding: .utf8)
            try Self.after.write(toFile: routing, atomically: false, encoding: .utf8)
            hosts.append(ApplyIntent.HostFiles(host: "edge\(index + 1)", files: [
                ApplyIntent.File(path: routing, target: routing, backup: backup, hashBefore: SHA256.hex(Self.before), hashAfter: SHA256.hex(Self.after)),
            ]))
        }
        let intent = ApplyIntent(id: "dead0000-0000-0000-0000-000000000000", time: Date(), pid: 999_999, user: "ops", host: "admin",
                                 change: ChangeDescription(action: "set-percent"), files: [], hosts: hosts)
        try intent.save(to: fleet.pipeline.configuration.intentFile)
        let report = try #require(try fleet.pipeline.recoverInterrupted())
        #expect(report.outcome == .recovered, "\(report.message)")
        #expect(report.message.contains("edge1, edge2"), "\(report.message)")
        for routing in fleet.routings { #expect(try String(contentsOfFile: routing, encoding: .utf8) == Self.before) }
        #expect(fleet.runner.commands.filter { $0.last == "reload" }.count == 2, "both hosts reloaded on their previous files")
        let record = try #require(try fleet.pipeline.configuration.journal.records().last)
        #expect(record.outcome == .recovered)
        #expect(record.hosts?.map(\.state) == [.reverted, .reverted])
        #expect(!FileManager.default.fileExists(atPath: fleet.pipeline.configuration.intentFile))
        #expect(try fleet.pipeline.recoverInterrupted() == nil)
        // The local pipeline leaves a fleet intent alone (it cannot reach the hosts).
        try intent.save(to: fleet.pipeline.configuration.intentFile)
        let local = ApplyPipeline(configuration: fleet.pipeline.configuration, runner: fleet.runner)
        #expect(try local.recoverInterrupted() == nil)
        #expect(FileManager.default.fileExists(atPath: fleet.pipeline.configuration.intentFile))
    }
}
