import AccessLog
import Foundation
import Testing

/// Replays the log-line parser's fuzz crashes (Fixtures/fuzz-crashes/log-line) and the fuzz seeds as the fuzz
/// target does: the first byte picks the format, the rest is the line; every accessor stays within the line.
@Suite struct LogLineFuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    @Test func everyCrashInputAndSeedParsesSafely() throws {
        let timed = #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "#
            + #""$http_user_agent" $request_time $upstream_response_time $upstream_addr $request_id"#
        let json = #"{"time":"$time_iso8601","request":"$request","status":$status,"rt":$request_time,"up":"$upstream_addr"}"#
        let parsers = [LogLineParser(format: .combined), LogLineParser(format: try LogFormat(name: "timed", template: timed)),
                       LogLineParser(format: try LogFormat(name: "json", template: json, escape: .json))]
        let dirs = [Self.root.appendingPathComponent("Fixtures/fuzz-crashes/log-line"),
                    Self.root.appendingPathComponent("../../Fuzz/corpus/log-line").standardized]
        let inputs = dirs.flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? [])
                .filter { $0.lastPathComponent != "README.md" }
        }
        #expect(inputs.count >= 5, "the seed corpus is in place")
        var parsed = 0
        for url in inputs {
            let bytes = [UInt8](try Data(contentsOf: url))
            guard let first = bytes.first else { continue }
            let parser = parsers[Int(first) % parsers.count]
            let line = Array(bytes.dropFirst())
            line.withUnsafeBytes { raw in
                guard parser.parse(raw) else { return }
                parsed += 1
                if let path = parser.rawPath() { _ = parser.unescape(path) }
                for variable in LogVariable.allCases {
                    if let value = parser.value(variable) { #expect(value.count <= bytes.count, "\(url.lastPathComponent)") }
                }
            }
        }
        #expect(parsed >= 4, "the seeds are lines of their formats")
    }
}
