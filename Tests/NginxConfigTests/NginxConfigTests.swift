import Foundation
import Testing
import TestSupport
@testable import NginxConfig

/// The folder of fixture configs beside this file.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func fixture(_ name: String) throws -> String {
    try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
}

@Suite struct RoundTripTests {
    static let corpus = ["migration.conf", "debian-nginx.conf", "debian-sites-default", "tabs.conf", "crlf.conf",
                         "odd.conf", "nofinalnewline.conf", "empty.conf", "onlycomment.conf"]

    @Test(arguments: corpus)
    func unchangedTreePrintsTheSameBytes(name: String) throws {
        let text = try fixture(name)
        let tree = try ConfigParser.parse(text, path: name)
        #expect(Array(ConfigPrinter.print(tree).utf8) == Array(text.utf8))
    }

    @Test func oneLineAndMultiLineBlocksParse() throws {
        let tree = try ConfigParser.parse(try fixture("odd.conf"), path: "odd.conf")
        let http = try #require(tree.children.first?.block)
        let splits = http.children.filter { $0.name.value == "split_clients" }
        #expect(splits.count == 2)
        #expect(splits[0].values == ["${request_id}", "$g1"])
        #expect(splits[0].block?.children.map(\.name.value) == ["25%", "*"])
        #expect(splits[1].values == ["${request_id}", "$g2"])
        #expect(splits[1].block?.children.map(\.values) == [["new_service"], ["current_service"]])
        let map = try #require(http.children.first { $0.name.value == "map" })
        #expect(map.values == ["$uri", "$target_path"])
        let entries = try #require(map.block?.children)
        #expect(entries[0].name.value == "~^/v2/{weird}/path")
        #expect(entries[0].values == ["/v2/}brace{"])
        #expect(entries[1].name.value == "~*^/v2/CaseLess\\.x")
        #expect(entries[1].values == ["single quoted \"x\""])
        #expect(entries[2].name.value == "\\~literal")  // nginx keeps the backslash; map strips it
        #expect(entries[2].values == ["escaped \"quote\""])
        let set = try #require(http.children.first { $0.name.value == "set" })
        #expect(set.values == ["$x", "${request_id}abc"])
        let ret = try #require(http.children.last { $0.name.value == "return" })
        #expect(ret.values == ["200", "a\nb\tc \\ d"])
    }

    @Test func positionsAreLineAndColumn() throws {
        let tree = try ConfigParser.parse("http {\n  map $uri $t {\n    ~^/a \"/b\";\n  }\n}\n", path: "p.conf")
        let entry = try #require(tree.children.first?.block?.children.first?.block?.children.first)
        #expect(entry.name.line == 3)
        #expect(entry.name.column == 5)
        #expect(entry.args[0].column == 10)
    }
}

@Suite struct SyntaxErrorTests {
    @Test(arguments: [
        ("http {\n  listen 80;\n", 3, 1, "unexpected end of file, expecting \"}\""),
        ("}\n", 1, 1, "unexpected \"}\""),
        ("listen 80\n", 2, 1, "unexpected end of file, expecting \";\" or \"}\""),
        ("a \"b\"c;\n", 1, 6, "unexpected \"c\" after a quoted string"),
        ("http {\n ;\n}", 2, 2, "unexpected \";\""),
        ("x \"open\n\n", 1, 3, "unexpected end of file inside a quoted string"),
        ("http { a b }\n", 1, 12, "unexpected \"}\", expecting \";\""),
    ])
    func errorsNameLineColumnAndExpectation(text: String, line: Int, column: Int, message: String) {
        #expect(throws: ConfigSyntaxError.self) { try ConfigParser.parse(text, path: "bad.conf") }
        do {
            _ = try ConfigParser.parse(text, path: "bad.conf")
        } catch {
            #expect(error.file == "bad.conf")
            #expect(error.line == line)
            #expect(error.column == column)
            #expect(error.message.hasPrefix(message), "\(error.message)")
            #expect(error.description.hasPrefix("bad.conf:\(line):\(column): "))
        }
    }
}

@Suite struct FuzzTests {
    @Test func randomBytesNeverCrashAndRoundTripWhenAccepted() {
        var rng = SeededRandom(seed: 42)
        let alphabet = Array("ab $#{};\"'\\\n\r\t~*%.^/()".utf8)
        for _ in 0..<3000 {
            let n = Int.random(in: 0..<80, using: &rng)
            let bytes = (0..<n).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
            let text = String(decoding: bytes, as: UTF8.self)
            if let tree = try? ConfigParser.parse(text, path: "f") {
                #expect(ConfigPrinter.print(tree) == text)
            }
        }
    }

    @Test func mutatedCorpusNeverCrashesAndRoundTripsWhenAccepted() throws {
        var rng = SeededRandom(seed: 7)
        let seeds = try RoundTripTests.corpus.map { Array(try fixture($0).utf8) }.filter { !$0.isEmpty }
        let inserts = Array("{};\"'#\\$ \n".utf8)
        var accepted = 0
        for _ in 0..<1500 {
            var bytes = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(inserts[Int.random(in: 0..<inserts.count, using: &rng)], at: at)
                default: bytes[at] = inserts[Int.random(in: 0..<inserts.count, using: &rng)]
                }
                if bytes.isEmpty { break }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                let tree = try ConfigParser.parse(text, path: "m")
                accepted += 1
                #expect(ConfigPrinter.print(tree) == text)
            } catch {
                #expect(error.line >= 1 && error.column >= 1)
            }
        }
        #expect(accepted > 0)
    }
}

@Suite struct IncludeTests {
    func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-inc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("conf.d"), withIntermediateDirectories: true)
        return dir
    }

    @Test func includesAreFollowedWithGlobsRelativeToThePrefix() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "events {}\nhttp {\n    include conf.d/*.conf;\n}\n".write(to: dir.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        try "map $uri $a { default 1; }\n".write(to: dir.appendingPathComponent("conf.d/b.conf"), atomically: true, encoding: .utf8)
        try "map $uri $b { default 2; }\n".write(to: dir.appendingPathComponent("conf.d/a.conf"), atomically: true, encoding: .utf8)
        let set = try ConfigSet.load(path: dir.appendingPathComponent("nginx.conf").path)
        #expect(set.files.count == 3)
        let maps = set.allDirectives().filter { $0.directive.name.value == "map" }
        #expect(maps.map { $0.directive.values[1] } == ["$b", "$a"])
        #expect(maps[0].file.hasSuffix("conf.d/a.conf"))
        #expect(maps[0].ancestors.map(\.name.value) == ["http"])
        #expect(set.changes().isEmpty)
    }

    @Test func anEditLandsInTheFileHoldingTheDirective() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "http {\n    include conf.d/r.conf;\n}\n".write(to: dir.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        try "map $uri $a {\n    default 1;\n}\n".write(to: dir.appendingPathComponent("conf.d/r.conf"), atomically: true, encoding: .utf8)
        var set = try ConfigSet.load(path: dir.appendingPathComponent("nginx.conf").path)
        let entry = try #require(set.allDirectives().first { $0.directive.name.value == "default" })
        set.modify(at: entry.path) { $0.args[0].raw = "2" }
        let changes = set.changes()
        #expect(changes.count == 1)
        #expect(changes[0].path.hasSuffix("conf.d/r.conf"))
        #expect(changes[0].after == "map $uri $a {\n    default 2;\n}\n")
    }

    @Test func aMissingIncludeNamesTheIncludingFileAndLine() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "http {\n    include missing.conf;\n}\n".write(to: dir.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        #expect {
            try ConfigSet.load(path: dir.appendingPathComponent("nginx.conf").path)
        } throws: { error in
            "\(error)".contains("nginx.conf:2: cannot read included file") && "\(error)".contains("missing.conf")
        }
    }

    @Test func anIncludeCycleIsAnError() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "include b.conf;\n".write(to: dir.appendingPathComponent("a.conf"), atomically: true, encoding: .utf8)
        try "include a.conf;\n".write(to: dir.appendingPathComponent("b.conf"), atomically: true, encoding: .utf8)
        #expect(throws: ConfigLoadError.self) { try ConfigSet.load(path: dir.appendingPathComponent("a.conf").path) }
    }
}
