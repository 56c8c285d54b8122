import Foundation
import Testing
@testable import AccessLog

/// The parser's field scan (sixteen bytes at a time, literals compared as one word) against a byte-by-byte
/// reference of the same rule, on seeded random formats and lines: literals of one to twenty bytes, values that
/// contain the literals' bytes and backslashes, delimiters on every offset of a sixteen-byte block, lines ending
/// right after a literal.
@Suite struct ParserScanTests {
    /// A small seeded generator (xorshift64*).
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let variables = ["request_id", "upstream_addr", "body_bytes_sent", "request_uri", "http_user_agent", "remote_addr",
                            "uri", "upstream_response_time", "http_referer"]
    static let literals = [" ", "\"", " [", "] \"", "\" ", "|", "::", "\" \"", " -- a longer literal -- ", "ab", "\\", "x\\y",
                           "123456789", "1234567890", "  "]
    static let alphabet = Array(" \"[]|:-ab\\xy0123456789/.?".utf8)

    /// The byte ranges of each field's value, or nil when the line does not fit (the rule `parse` implements).
    static func reference(_ format: LogFormat, _ line: [UInt8]) -> [Range<Int>]? {
        let n = line.count
        guard line.starts(with: format.prefix) else { return nil }
        var pos = format.prefix.count
        var ranges: [Range<Int>] = []
        for field in format.fields {
            let literal = field.literalAfter
            if literal.isEmpty {
                ranges.append(pos..<n)
                pos = n
                continue
            }
            var q = pos
            var found: Int?
            while q < n {
                guard let at = (q..<n).first(where: { line[$0] == literal[0] || (format.escape == .json && line[$0] == 0x5C) }) else { break }
                if format.escape == .json, line[at] == 0x5C, literal[0] != 0x5C {
                    q = at + 2
                    continue
                }
                if at + literal.count <= n, Array(line[at..<(at + literal.count)]) == literal {
                    found = at
                    break
                }
                q = at + 1
            }
            guard let end = found else { return nil }
            ranges.append(pos..<end)
            pos = end + literal.count
        }
        return pos == n ? ranges : nil
    }

    @Test(arguments: [LogEscape.default, .json, .none])
    func scanMatchesTheByteByByteRule(escape: LogEscape) throws {
        var random = Random(state: 0x5CA7_F1E1 &+ UInt64(escape.rawValue.count))
        var checked = 0, fitting = 0
        for _ in 0..<300 {
            // A template: an optional literal prefix, then variables each followed by a literal (the last maybe none).
            let count = 1 + random.below(6)
            var template = random.below(3) == 0 ? "[" : ""
            var used: [String] = []
            for i in 0..<count {
                let name = Self.variables[random.below(Self.variables.count)]
                guard !used.contains(name) else { continue }
                used.append(name)
                template += "$" + name
                if i + 1 < count || random.below(2) == 0 { template += Self.literals[random.below(Self.literals.count)] }
            }
            guard let format = try? LogFormat(template: template, escape: escape) else { continue }
            let parser = LogLineParser(format: format)
            for _ in 0..<60 {
                // A line filled in from the format with random values, sometimes cut or with a byte changed.
                var line = format.prefix
                for field in format.fields {
                    let length = random.below(4) == 0 ? 16 + random.below(24) : random.below(12)
                    line += (0..<length).map { _ in Self.alphabet[random.below(Self.alphabet.count)] }
                    line += field.literalAfter
                }
                switch random.below(6) {
                case 0 where !line.isEmpty: line.removeLast(1 + random.below(min(line.count, 4)))
                case 1 where !line.isEmpty: line[random.below(line.count)] = Self.alphabet[random.below(Self.alphabet.count)]
                default: break
                }
                let expected = Self.reference(format, line)
                line.withUnsafeBytes { bytes in
                    let ok = parser.parse(bytes)
                    #expect(ok == (expected != nil), "\(template) on \(String(decoding: line, as: UTF8.self))")
                    guard ok, let expected else { return }
                    fitting += 1
                    for (field, range) in zip(format.fields, expected) {
                        guard let variable = field.variable else { continue }
                        let value = parser.raw(variable).map { Array($0) }
                        #expect(value == Array(line[range]), "\(field.name) of \(template) on \(String(decoding: line, as: UTF8.self))")
                    }
                }
                checked += 1
            }
        }
        #expect(checked > 10_000)
        #expect(fitting > checked / 3)
    }

    @Test func pathIsBetweenTheFirstAndTheLastSpaceOfTheRequest() throws {
        let parser = LogLineParser(format: try LogFormat(template: "$request", escape: .none))
        var random = Random(state: 0x9A7B)
        let alphabet = Array("  ab/?\\xH".utf8)
        for _ in 0..<5000 {
            let line = (0..<random.below(40)).map { _ in alphabet[random.below(alphabet.count)] }
            // The reference: the target between the first space and the last one after it, up to its query.
            var expected: [UInt8]?, escaped = false
            if let first = line.firstIndex(of: 0x20) {
                let end = line[(first + 1)...].lastIndex(of: 0x20) ?? line.count
                var target = Array(line[(first + 1)..<end])
                if let stop = target.firstIndex(where: { $0 == 0x3F || $0 == 0x5C }) {
                    if target[stop] == 0x3F {
                        target = Array(target[..<stop])
                    } else {
                        escaped = true
                        if let query = target[stop...].firstIndex(of: 0x3F) { target = Array(target[..<query]) }
                    }
                }
                expected = target.isEmpty ? nil : target
            }
            parse(parser, line) { ok in
                #expect(ok)
                #expect(parser.rawPath().map { Array($0) } == expected, "\(String(decoding: line, as: UTF8.self))")
                if expected != nil { #expect(parser.rawPathHasEscapes == escaped) }
            }
        }
    }

    @Test func failedLinesLeaveNoValues() throws {
        let format = try LogFormat(template: "$request_id $upstream_addr|$status", escape: .default)
        let parser = LogLineParser(format: format)
        parse(parser, Array("abc 127.0.0.1:80|200".utf8)) { ok in
            #expect(ok)
            #expect(text(parser.raw(.upstreamAddr)) == "127.0.0.1:80")
        }
        parse(parser, Array("abc 127.0.0.1:80|20x".utf8)) { ok in
            #expect(!ok)
            #expect(parser.lastFailure == .badStatus)
            #expect(parser.raw(.requestID) == nil && parser.raw(.upstreamAddr) == nil && parser.status == nil)
        }
    }

    @Test func lastUpstreamOfAList() {
        for (list, last) in [("127.0.0.1:9000", "127.0.0.1:9000"), ("a:1, b:2", "b:2"), ("a:1, b:2 : c:3", "c:3"), ("a:1 ", "a:1"),
                             ("a:1,b:2", "b:2"), ("", ""), ("   ", "")] {
            let bytes = Array(list.utf8)
            bytes.withUnsafeBytes { #expect(text(LogNumber.lastListElement($0)) == last, "\(list)") }
        }
    }
}
