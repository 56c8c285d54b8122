import Foundation
import Testing
@testable import AccessLog

/// Parses the lines real nginx wrote (see Fixtures/nginx/README.md) in each escaping.
@Suite struct RealNginxLinesTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/nginx")

    func lines(_ name: String) throws -> [[UInt8]] {
        try Data(contentsOf: Self.directory.appendingPathComponent(name)).split(separator: 0x0A, omittingEmptySubsequences: false)
            .dropLast().map { Array($0) }
    }

    /// The unescaped path of each line, nil where a line has none; every line must parse.
    func paths(_ name: String, _ format: LogFormat) throws -> [[UInt8]?] {
        let parser = LogLineParser(format: format)
        return try lines(name).map { line in
            line.withUnsafeBytes { bytes -> [UInt8]? in
                #expect(parser.parse(bytes), "\(name): \(String(decoding: line, as: UTF8.self))")
                return parser.rawPath().map { Array(parser.unescape($0)) }
            }
        }
    }

    static let expectedPaths: [[UInt8]?] = [
        Array("/v2/content_api/book.get_chapter_details".utf8),
        Array("/caf%C3%A9//a/./b/../c".utf8),
        Array("/up/x".utf8),
        Array("/r".utf8) + [0xC3, 0xA9, 0xFF] + Array("\"q\\".utf8),
        nil,
    ]

    @Test func combinedDefaultEscaping() throws {
        #expect(try paths("combined.log", .combined) == Self.expectedPaths)
    }

    @Test func timedDefaultEscapingWithUpstreams() throws {
        let format = try LogFormat(template: LogFormat.combinedTemplate + " $request_time $upstream_response_time $upstream_addr $request_id")
        #expect(try paths("timed.log", format) == Self.expectedPaths)
        let parser = LogLineParser(format: format)
        let all = try lines("timed.log")
        all[2].withUnsafeBytes { line in
            #expect(parser.parse(line))
            #expect(parser.status == 502)
            #expect(parser.upstreamResponseTimeMilliseconds == 0)
            #expect(parser.upstreamAddress.map { String(decoding: $0, as: UTF8.self) } == "127.0.0.1:1")
        }
        all[0].withUnsafeBytes { line in
            #expect(parser.parse(line))
            #expect(parser.upstreamResponseTimeMilliseconds == nil)
            #expect(parser.upstreamAddress == nil)
            #expect(parser.time == 1_795_833_957)
            #expect(parser.requestTimeMilliseconds == 0)
        }
    }

    @Test func jsonEscaping() throws {
        let template = #"{"time":"$time_iso8601","request":"$request","uri":"$request_uri","status":$status,"rt":$request_time,"#
            + #""ut":"$upstream_response_time","ua":"$http_user_agent"}"#
        #expect(try paths("json.log", try LogFormat(template: template, escape: .json)) == Self.expectedPaths)
    }

    @Test func noEscaping() throws {
        let format = try LogFormat(template: "$msec|$request_uri|$status|$request_time|$upstream_status", escape: .none)
        #expect(try paths("raw.log", format) == Self.expectedPaths)
        let parser = LogLineParser(format: format)
        try lines("raw.log")[2].withUnsafeBytes { line in
            #expect(parser.parse(line))
            #expect(parser.upstreamStatus == 502)
            #expect(parser.time == 1_795_833_957)
        }
    }
}
