import Foundation
import Testing
@testable import AccessLog

/// Parses one line with a parser and returns it (the parser's accessors are valid while `line` lives).
func parse(_ parser: LogLineParser, _ line: [UInt8], _ body: (Bool) -> Void) {
    line.withUnsafeBytes { body(parser.parse($0)) }
}

func text(_ buffer: UnsafeRawBufferPointer?) -> String? {
    buffer.map { String(decoding: $0, as: UTF8.self) }
}

@Suite struct LogFormatTests {
    @Test func compilesCombined() throws {
        let format = LogFormat.combined
        #expect(format.name == "combined")
        #expect(format.prefix.isEmpty)
        #expect(format.fields.map(\.name) == ["remote_addr", "remote_user", "time_local", "request", "status", "body_bytes_sent",
                                              "http_referer", "http_user_agent"])
        #expect(format.fields[2].literalAfter == Array("] \"".utf8))
        #expect(format.fields.last?.literalAfter == Array("\"".utf8))
        #expect(format.hasTime && format.hasPath)
        #expect(!format.contains(.requestTime))
    }

    @Test func compilesBracedNamesAndLiteralPrefix() throws {
        let format = try LogFormat(template: "[${time_iso8601}] ${request_uri}|$status", escape: .none)
        #expect(format.prefix == Array("[".utf8))
        #expect(format.fields.map(\.variable) == [.timeISO8601, .requestURI, .status])
        #expect(format.fields[1].literalAfter == Array("|".utf8))
    }

    @Test func rejectsBadTemplates() {
        #expect(throws: LogFormatError.emptyTemplate) { try LogFormat(template: "") }
        #expect(throws: LogFormatError.unterminatedBrace(position: 0)) { try LogFormat(template: "${status") }
        #expect(throws: LogFormatError.adjacentVariables("status", "request_time")) { try LogFormat(template: "$status$request_time") }
        #expect(throws: LogFormatError.emptyVariableName(position: 2)) { try LogFormat(template: "a $ b") }
        #expect(throws: LogFormatError.unknownEscape("xml")) { try LogEscape(parameter: "escape=xml") }
        #expect((try? LogEscape(parameter: "escape=json")) == .json)
        #expect(LogFormatError.adjacentVariables("a", "b").description.contains("separator"))
    }

    @Test func parsesCombinedDefaultEscapingFromFixture() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/combined-default.log")
        let lines = try Data(contentsOf: url).split(separator: 0x0A).map { Array($0) }
        #expect(lines.count == 4)
        let parser = LogLineParser(format: .combined)
        parse(parser, lines[0]) { ok in
            #expect(ok)
            #expect(parser.time == 1_795_830_924)
            #expect(parser.status == 200)
            #expect(parser.requestTimeMilliseconds == nil)
            #expect(text(parser.rawPath()) == "/v2/content_api/book.get_chapter_details")
            #expect(text(parser.value(.bodyBytesSent)) == "512")
        }
        parse(parser, lines[1]) { ok in
            #expect(ok)
            #expect(parser.time == 1_795_827_325)
            #expect(parser.status == 404)
            let raw = parser.rawPath()
            #expect(text(raw) == #"/caf\xC3\xA9/\x22q\x22"#)
            #expect(raw.map { text(parser.unescape($0)) } == "/café/\"q\"")
        }
        parse(parser, lines[2]) { ok in
            #expect(!ok)
            #expect(parser.lastFailure == .literalMismatch)
        }
        parse(parser, lines[3]) { ok in
            // A junk request is a well-formed line: nginx logged it with status 400, but it has no usable path.
            #expect(ok)
            #expect(parser.status == 400)
            #expect(parser.rawPath() == nil)
        }
    }

    @Test func parsesJSONEscaping() throws {
        let template = #"{"t":"$time_iso8601","r":"$request","s":$status,"rt":$request_time,"ut":"$upstream_response_time","#
            + #""ua":"$http_user_agent","u":"$upstream_addr"}"#
        let parser = LogLineParser(format: try LogFormat(template: template, escape: .json))
        var line = Array(#"{"t":"2026-11-28T01:55:24+00:00","r":"GET /a\"b\\c\u001f?x=1 HTTP/1.1","s":502,"rt":0.125,"#.utf8)
        line += Array(#""ut":"0.010, 0.020 : 0.030","ua":"raw "#.utf8) + [0xC3, 0x28, 0xFF] + Array(#" \"q\" }","u":""}"#.utf8)
        parse(parser, line) { ok in
            #expect(ok)
            #expect(parser.time == 1_795_830_924)
            #expect(parser.status == 502)
            #expect(parser.requestTimeMilliseconds == 125)
            #expect(parser.upstreamResponseTimeMilliseconds == 60)
            #expect(parser.upstreamAddress == nil)  // unset in JSON is empty
            let raw = parser.rawPath()
            #expect(text(raw) == #"/a\"b\\c\u001f"#)
            #expect(raw.map { Array(parser.unescape($0)) } == Array("/a\"b\\c".utf8) + [0x1F])
            #expect(parser.raw(.upstreamAddr)?.isEmpty == true)
        }
    }

    @Test func parsesNoEscapingAndFormatsWithoutTimes() throws {
        let parser = LogLineParser(format: try LogFormat(template: "$remote_addr $request_uri $status", escape: .none))
        parse(parser, Array("1.2.3.4 /x/\"y\"?q 204".utf8)) { ok in
            #expect(ok)
            #expect(parser.time == nil)
            #expect(parser.requestTimeMilliseconds == nil)
            #expect(text(parser.rawPath()) == "/x/\"y\"")
            #expect(text(parser.unescape(parser.rawPath() ?? UnsafeRawBufferPointer(start: nil, count: 0))) == "/x/\"y\"")
        }
    }

    @Test func readsUpstreamListsAndUnsetValues() throws {
        let template = "$status $request_time [$upstream_response_time] [$upstream_status] [$upstream_addr] $request_id \"$uri\""
        let parser = LogLineParser(format: try LogFormat(template: template))
        parse(parser, Array("200 0.300 [-, 0.020 : 0.005] [502, 200 : 200] [10.0.0.1:80, 10.0.0.2:80 : 10.0.0.9:9000] abc \"/p\"".utf8)) { ok in
            #expect(ok)
            #expect(parser.requestTimeMilliseconds == 300)
            #expect(parser.upstreamResponseTimeMilliseconds == 25)
            #expect(parser.upstreamStatus == 200)
            #expect(text(parser.upstreamAddress) == "10.0.0.9:9000")
            #expect(text(parser.value(.requestID)) == "abc")
            #expect(text(parser.rawPath()) == "/p")
        }
        parse(parser, Array("499 - [-] [-] [-] - \"/p\"".utf8)) { ok in
            #expect(ok)
            #expect(parser.requestTimeMilliseconds == nil)
            #expect(parser.upstreamResponseTimeMilliseconds == nil)
            #expect(parser.upstreamStatus == nil)
            #expect(parser.upstreamAddress == nil)
            #expect(parser.value(.requestID) == nil)
        }
        parse(parser, Array("200 abc [-] [-] [-] - \"/p\"".utf8)) { ok in
            #expect(!ok)
            #expect(parser.lastFailure == .badRequestTime)
        }
        parse(parser, Array("2x0 0.1 [-] [-] [-] - \"/p\"".utf8)) { ok in
            #expect(!ok)
            #expect(parser.lastFailure == .badStatus)
        }
        parse(parser, Array("200 0.1 [-] [-] [-] - \"/p\" trailing".utf8)) { ok in
            #expect(!ok)
            #expect(parser.lastFailure == .trailingBytes)
        }
    }

    @Test func survivesBinaryJunkAndLongLines() {
        let parser = LogLineParser(format: .combined)
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 7, 100, 5000] {
            let junk = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            parse(parser, junk) { ok in #expect(!ok || length > 0) }
        }
        let long = Array("1.1.1.1 - - [28/Nov/2026:01:55:24 +0000] \"GET /".utf8) + Array(repeating: 0x61, count: 100_000)
            + Array(" HTTP/1.1\" 200 1 \"-\" \"-\"".utf8)
        parse(parser, long) { ok in
            #expect(ok)
            #expect(parser.rawPath()?.count == 100_001)
        }
    }

    @Test func parsesTimes() {
        func local(_ s: String) -> Int64? { Array(s.utf8).withUnsafeBytes { LogTime.parseLocal($0) } }
        func iso(_ s: String) -> Int64? { Array(s.utf8).withUnsafeBytes { LogTime.parseISO8601($0) } }
        func msec(_ s: String) -> Int64? { Array(s.utf8).withUnsafeBytes { LogTime.parseMsec($0) } }
        #expect(local("10/Oct/2000:13:55:36 -0700") == 971_211_336)
        #expect(local("01/Jan/1970:00:00:00 +0000") == 0)
        #expect(local("29/Feb/2024:23:59:59 +0530") == 1_709_231_399)
        #expect(local("10/Foo/2000:13:55:36 -0700") == nil)
        #expect(local("10/Oct/2000:25:55:36 -0700") == nil)
        #expect(local("10/Oct/2000 13:55:36 -0700") == nil)
        #expect(iso("2000-10-10T13:55:36-07:00") == 971_211_336)
        #expect(iso("2000-10-10T20:55:36Z") == 971_211_336)
        #expect(iso("2000-10-10T20:55:36+00") == nil)
        #expect(msec("1700000000.123") == 1_700_000_000)
        #expect(msec("1700000000") == 1_700_000_000)
        #expect(msec("17000x0000.1") == nil)
        #expect(LogTime.daysFromCivil(year: 2000, month: 3, day: 1) == 11_017)
        #expect(LogTime.daysFromCivil(year: 1969, month: 12, day: 31) == -1)
    }

    @Test func parsesNumbers() {
        func ms(_ s: String) -> Int? { Array(s.utf8).withUnsafeBytes { LogNumber.milliseconds($0) } }
        #expect(ms("0.000") == 0)
        #expect(ms("1.5") == 1500)
        #expect(ms("12.345") == 12_345)
        #expect(ms("-") == nil)
        #expect(ms("") == nil)
        #expect(ms("1.2.3") == nil)
    }
}

@Suite struct LogWiringTests {
    @Test func readsLookBackDurations() throws {
        #expect(try LogStart.lookBackSeconds("15m") == 900)
        #expect(try LogStart.lookBackSeconds("90") == 90)
        #expect(try LogStart.lookBackSeconds("2h") == 7200)
        #expect(try LogStart.lookBackSeconds("1d") == 86_400)
        #expect(throws: LogWiringError.badDuration("15x")) { try LogStart.lookBackSeconds("15x") }
        #expect(throws: LogWiringError.badDuration("")) { try LogStart.lookBackSeconds("") }
    }

    @Test func resolvesFormatNames() throws {
        let timed = try LogFormat(name: "timed", template: "$status $request_time")
        #expect(try LogFormat.named(nil, in: [timed]) == .combined)
        #expect(try LogFormat.named("combined", in: [timed]) == .combined)
        #expect(try LogFormat.named("timed", in: [timed]) == timed)
        #expect(throws: LogWiringError.unknownFormat(name: "main", known: ["timed"])) { try LogFormat.named("main", in: [timed]) }
    }
}
