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
        // `--config /dev/zero` aborted on a 2 GB allocation; now it is refused before a byte is read.
        do {
            _ = try ConfigSet.load(path: "/dev/zero")
            Issue.record("/dev/zero loaded")
        } catch {
            #expect(error.description.contains("/dev/zero") && error.description.contains("it is a device, not a config file"), "\(error)")
        }
    }

    /// Loads `main` on a thread of its own, at most 10 s; nil (and a test issue) when it did not return.
    private func loadBounded(_ main: String) -> Result<ConfigSet, ConfigLoadError>? {
        let done = DispatchSemaphore(value: 0)
        let box = LoadBox()
        Thread.detachNewThread {
            do throws(ConfigLoadError) { box.result = .success(try ConfigSet.load(path: main)) } catch { box.result = .failure(error) }
            done.signal()
        }
        guard done.wait(timeout: .now() + 10) == .success else {
            Issue.record("loading \(main) did not return within 10 s")
            return nil
        }
        return box.result
    }

    @Test func anIncludedFIFODirectoryOrDeviceIsAClearErrorInBoundedTime() throws {
        let dir = try TempDir(prefix: "cutover-include-special")
        let fifo = dir.file("conf.d/pipe.conf")
        try FileManager.default.createDirectory(atPath: dir.file("conf.d/subdir.conf"), withIntermediateDirectories: true)
        #expect(mkfifo(fifo, 0o644) == 0)
        // A writer that never writes keeps a blocking read waiting for ever; it is closed at the end, so a
        // reader that blocked returns (the test then fails instead of hanging).
        let holder = open(fifo, O_RDWR | O_NONBLOCK)
        defer { if holder >= 0 { close(holder) } }
        let cases: [(include: String, target: String, kind: String)] = [
            ("conf.d/pipe.conf", fifo, "a FIFO (named pipe)"),
            ("conf.d/subdir.conf", dir.file("conf.d/subdir.conf"), "a directory"),
            ("/dev/zero", "/dev/zero", "a device"),
        ]
        for (index, c) in cases.enumerated() {
            let main = try dir.write("main\(index).conf", "events {}\nhttp {\n    include \(c.include);\n}\n")
            guard let result = loadBounded(main) else { continue }
            switch result {
            case .success:
                Issue.record("including \(c.kind) loaded as if it were a config")
            case .failure(let error):
                #expect(error == .includeMissing(file: main, line: 3, target: c.target,
                                                 reason: "it is \(c.kind), not a config file (nginx reads only regular files); "
                                                    + "point the include or --config at the config file itself"), "\(error)")
                #expect(error.description.hasPrefix("\(main):3: cannot read included file \(c.target): it is \(c.kind)"))
            }
        }
        // A glob that matches a FIFO is refused the same way.
        let glob = try dir.write("glob.conf", "http {\n    include conf.d/*.conf;\n}\n")
        if case .failure(let error)? = loadBounded(glob) {
            #expect(error.description.contains("it is a FIFO (named pipe)") || error.description.contains("it is a directory"), "\(error)")
        } else {
            Issue.record("a glob over a FIFO loaded")
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

/// The result of a load done on another thread.
private final class LoadBox: @unchecked Sendable {
    var result: Result<ConfigSet, ConfigLoadError>?
}
