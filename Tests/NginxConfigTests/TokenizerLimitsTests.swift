import Foundation
import Testing
import TestSupport
@testable import NginxConfig

@Suite struct TokenizerLimitsTests {
    @Test func aHashRightAfterAClosingQuoteIsAnError() {
        // nginx: unexpected "#"; Cutover read it as a comment.
        #expect(throws: ConfigSyntaxError.self) { try ConfigParser.parse("default_type \"x\"#c\n;\n", path: "t.conf") }
        #expect(throws: ConfigSyntaxError.self) { try ConfigParser.parse("default_type 'x'#c\n;\n", path: "t.conf") }
        #expect((try? ConfigParser.parse("default_type \"x\" #c\n;\n", path: "t.conf")) != nil)
        #expect((try? ConfigParser.parse("default_type x#c;\n", path: "t.conf")) != nil)  // inside a bare word it is text
    }

    @Test func tokensAndCommentsOf4096BytesAreRefusedAsNginxRefusesThem() throws {
        let a4095 = String(repeating: "a", count: 4095), a4096 = a4095 + "a"
        #expect((try? ConfigParser.parse("default_type \(a4095);\n", path: "t")) != nil)
        #expect(throws: ConfigSyntaxError.self) { try ConfigParser.parse("default_type \(a4096);\n", path: "t") }
        #expect((try? ConfigParser.parse("default_type \"\(String(a4095.dropLast()))\";\n", path: "t")) != nil)
        #expect(throws: ConfigSyntaxError.self) { try ConfigParser.parse("default_type \"\(a4095)\";\n", path: "t") }
        #expect((try? ConfigParser.parse("#\(String(a4095.dropLast()))\nx y;\n", path: "t")) != nil)
        #expect(throws: ConfigSyntaxError.self) { try ConfigParser.parse("#\(a4095)\nx y;\n", path: "t") }
        let e = try #require(syntaxError("default_type \(a4096);\n"))
        #expect(e.message.contains("too long parameter"))
    }

    @Test func deepNestingIsAClearErrorNotACrash() throws {
        // 10,000 nested blocks crashed the parser (SIGSEGV); 5,000 took 1.5 GB.
        let deep = String(repeating: "a {", count: 10_000) + String(repeating: "}", count: 10_000)
        let e = try #require(syntaxError(deep))
        #expect(e.message.contains("nested more than \(ConfigParser.maxDepth) levels"))
        let ok = String(repeating: "a {", count: ConfigParser.maxDepth) + String(repeating: "}", count: ConfigParser.maxDepth)
        let tree = try ConfigParser.parse(ok, path: "ok.conf")
        #expect(ConfigPrinter.print(tree) == ok)
    }

    @Test func devZeroIsRefusedWithABoundedRead() throws {
        // `--config /dev/zero` aborted on a 2 GB allocation.
        #expect(throws: ConfigLoadError.tooLarge(path: "/dev/zero", limit: LocalFileStore.maxFileBytes)) {
            _ = try ConfigSet.load(path: "/dev/zero")
        }
    }

    @Test func bytesThatAreNotUTF8AreKeptByteForByte() throws {
        // A Latin-1 config (accepted by nginx) was refused as not UTF-8.
        let dir = try TempDir()
        let path = dir.file("latin1.conf")
        var bytes = Array("# caf".utf8) + [0xE9] + Array(" \u{00E9}t\u{00E9}\nserver_name ".utf8) + [0xE9, 0xF4, 0x8F, 0xBE, 0x80] + Array(".example;\n".utf8)
        bytes += Array("# ".utf8) + [0xC3]  // a truncated sequence at the very end
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let set = try ConfigSet.load(path: path)
        let text = try #require(set.text(of: path))
        #expect(ConfigText.encode(text) == bytes)
        #expect(ConfigText.hasNonUTF8(text))
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let sample = (0..<Int.random(in: 0..<40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            #expect(ConfigText.encode(ConfigText.decode(sample)) == sample)
        }
    }
}

/// The syntax error parsing `text` throws, nil when it parses.
func syntaxError(_ text: String) -> ConfigSyntaxError? {
    do { _ = try ConfigParser.parse(text, path: "t.conf"); return nil } catch { return error }
}
