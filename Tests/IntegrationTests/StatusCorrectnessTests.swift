import Apply
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `cutover status --json` against what a real nginx in the reference pattern served and logged.
@Suite struct StatusCorrectnessTests {
    /// One request target of the mix and the endpoint nginx routes it to (nil: not migrated, with the path
    /// nginx makes of it).
    struct Probe {
        var target: String
        var endpoint: String?
        var normalized: String
        var repeats: Int
    }

    static let orders = #"~^/v2/orders/(\d+)$"#
    static let book = "~^/v2/content_api/book.get_book_info"
    static let ping = "/v2/status/ping"

    /// The request mix: ids in paths, query strings, merged slashes, dot segments, percent escapes, a quote
    /// and UTF-8 bytes (logged as \x escapes), and near misses of every key.
    static let probes: [Probe] = [
        Probe(target: "/v2/orders/12", endpoint: orders, normalized: "/v2/orders/12", repeats: 40),
        Probe(target: "/v2/orders/12?x=1&y=/v2/other", endpoint: orders, normalized: "/v2/orders/12", repeats: 10),
        Probe(target: "/v2//orders/12", endpoint: orders, normalized: "/v2/orders/12", repeats: 8),
        Probe(target: "/v2/orders/./12", endpoint: orders, normalized: "/v2/orders/12", repeats: 8),
        Probe(target: "/v2/orders/99/../12", endpoint: orders, normalized: "/v2/orders/12", repeats: 8),
        Probe(target: "/v2/orders/%31%32", endpoint: orders, normalized: "/v2/orders/12", repeats: 8),
        Probe(target: "/v2/orders/123456789", endpoint: orders, normalized: "/v2/orders/123456789", repeats: 20),
        Probe(target: "/v2/content_api/book.get_book_info", endpoint: book, normalized: "/v2/content_api/book.get_book_info", repeats: 40),
        Probe(target: "/v2/content_api/book.get_book_info?id=7&lang=en", endpoint: book, normalized: "/v2/content_api/book.get_book_info", repeats: 15),
        Probe(target: "/v2/content_api/book.get_book_info%3F", endpoint: book, normalized: "/v2/content_api/book.get_book_info?", repeats: 8),
        Probe(target: "/v2/content_api/book%2Eget_book_info", endpoint: book, normalized: "/v2/content_api/book.get_book_info", repeats: 8),
        // The key's `.` is a regex dot: any character matches it.
        Probe(target: "/v2/content_api/bookXget_book_info", endpoint: book, normalized: "/v2/content_api/bookXget_book_info", repeats: 6),
        Probe(target: "/v2/content_api/book.get_book_info/a%20b", endpoint: book, normalized: "/v2/content_api/book.get_book_info/a b", repeats: 6),
        Probe(target: "/v2/content_api/book.get_book_info/q\"uote", endpoint: book, normalized: "/v2/content_api/book.get_book_info/q\"uote", repeats: 6),
        Probe(target: "/v2/content_api/book.get_book_info/caf\u{E9}", endpoint: book, normalized: "/v2/content_api/book.get_book_info/caf\u{E9}", repeats: 6),
        Probe(target: "/v2/status/ping", endpoint: ping, normalized: "/v2/status/ping", repeats: 25),
        Probe(target: "/v2/status/ping?verbose=1", endpoint: ping, normalized: "/v2/status/ping", repeats: 8),
        Probe(target: "/v2/status//ping", endpoint: ping, normalized: "/v2/status/ping", repeats: 6),
        Probe(target: "/v2/status/%70ing", endpoint: ping, normalized: "/v2/status/ping", repeats: 6),
        // Not migrated: near misses of each key, other versions, the root.
        Probe(target: "/v2/orders/12/items", endpoint: nil, normalized: "/v2/orders/12/items", repeats: 12),
        Probe(target: "/v2/orders/abc", endpoint: nil, normalized: "/v2/orders/abc", repeats: 7),
        Probe(target: "/V2/orders/12", endpoint: nil, normalized: "/V2/orders/12", repeats: 5),
        Probe(target: "/v2/content_api/book.get_chapters?id=1", endpoint: nil, normalized: "/v2/content_api/book.get_chapters", repeats: 9),
        Probe(target: "/v2/status/ping/", endpoint: nil, normalized: "/v2/status/ping/", repeats: 4),
        Probe(target: "/v2/status/pingx", endpoint: nil, normalized: "/v2/status/pingx", repeats: 3),
        Probe(target: "/v1/legacy/thing%21", endpoint: nil, normalized: "/v1/legacy/thing!", repeats: 11),
        Probe(target: "/", endpoint: nil, normalized: "/", repeats: 2),
    ]

    @Test func perEndpointCountsAndPercentilesMatchTheBackendsAndTheLoggedTimes() throws {
        let setup = try CLIReferenceNginx(spreadLatency: true)
        defer { setup.nginx.stop() }
        // Interleave the probes so both halves (before and after the rotation and reload) see every one.
        var schedule: [Int] = []
        let rounds = Self.probes.map(\.repeats).max() ?? 0
        for round in 0..<rounds {
            for (index, probe) in Self.probes.enumerated() where round < probe.repeats { schedule.append(index) }
        }
        var served: [String: (current: Int, new: Int)] = [:]
        var legacy: [String: Int] = [:]
        let client = HTTPTestClient(port: setup.frontPort)
        let rotated = setup.migrationLog + ".1"
        for (step, index) in schedule.enumerated() {
            if step == schedule.count / 3 {
                // Rotate the migration log the way logrotate does: move it, then ask nginx to reopen.
                try FileManager.default.moveItem(atPath: setup.migrationLog, toPath: rotated)
                try setup.signal("reopen")
            }
            if step == 2 * schedule.count / 3 { try setup.signal("reload") }
            let probe = Self.probes[index]
            let response = try client.get(probe.target)
            try #require(response.status == 200, "\(probe.target): status \(response.status)")
            if let endpoint = probe.endpoint {
                var counts = served[endpoint] ?? (0, 0)
                switch response.body {
                case "new": counts.new += 1
                case "current": counts.current += 1
                default: Issue.record("\(probe.target): unexpected body \(response.body)")
                }
                served[endpoint] = counts
            } else {
                #expect(response.body == "current", "\(probe.target) is not migrated but reached \(response.body)")
                legacy[probe.normalized, default: 0] += 1
            }
        }
        // nginx writes a line after the response: wait (bounded) until every request is logged.
        let logs = [setup.mainLog, rotated, setup.migrationLog]
        var logged: [LoggedRequest] = []
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            logged = logs.flatMap { LoggedRequest.read($0) }
            if logged.count >= schedule.count { break }
            usleep(10_000)
        } while ContinuousClock.now < deadline
        try #require(logged.count == schedule.count, "\(logged.count) lines logged for \(schedule.count) requests")
        #expect(LoggedRequest.read(rotated).count > 0 && LoggedRequest.read(setup.migrationLog).count > 0,
                "both the rotated and the reopened migration log hold lines")

        let result = try setup.cutover(["status", "--json", "--from-start", "--window", "all", "--config", setup.routingPath,
                                        "--main-log", setup.mainLog, "--migration-log", rotated, setup.migrationLog])
        try #require(result.exitCode == 0, "\(result)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        let endpoints = try #require(document["endpoints"] as? [[String: Any]])
        #expect(Set(endpoints.compactMap { $0["pattern"] as? String }) == [Self.orders, Self.book, Self.ping])

        // Percentiles straight from the logged $request_time, per endpoint and backend (nearest rank).
        let endpointOf = Dictionary(Self.probes.map { (LoggedRequest.escaped($0.target), $0.endpoint) }, uniquingKeysWith: { a, _ in a })
        var times: [String: [Int]] = [:]
        for line in logged {
            let target = try #require(endpointOf[line.target], "logged target \(line.target) was never sent")
            guard let endpoint = target else { continue }
            times["\(endpoint) \(line.migration ? "new" : "current")", default: []].append(line.requestTimeMs)
        }

        var summary: [String] = []
        for entry in endpoints {
            let pattern = try #require(entry["pattern"] as? String)
            let stats = try #require(entry["stats"] as? [String: Any], "\(pattern) has no stats")
            let expected = served[pattern] ?? (0, 0)
            for (side, count) in [("current", expected.current), ("new", expected.new)] {
                let figures = try #require(stats[side] as? [String: Any], "\(pattern) \(side)")
                #expect(figures["requests"] as? Int == count, "\(pattern) \(side): Cutover counted \(figures["requests"] ?? "nil"), the backend served \(count)")
                let values = (times["\(pattern) \(side)"] ?? []).sorted()
                #expect(values.count == count, "\(pattern) \(side): \(values.count) logged lines, \(count) served")
                guard !values.isEmpty else { continue }
                for percentile in [50.0, 95.0, 99.0] {
                    let key = "p\(Int(percentile))_ms"
                    let reported = try #require(figures[key] as? Double ?? (figures[key] as? Int).map(Double.init), "\(pattern) \(side) \(key)")
                    let direct = Double(Self.nearestRank(values, percentile))
                    #expect(abs(reported - direct) <= 1, "\(pattern) \(side) \(key): Cutover \(reported) ms, the log says \(direct) ms")
                    summary.append("\(pattern) \(side) \(key) \(reported)/\(direct)")
                }
            }
            #expect(expected.current > 0 && expected.new > 0 || pattern == Self.ping, "\(pattern) was served by both backends: \(expected)")
            // The observed share is the new service's part of what the backends served.
            let observed = try #require(stats["observed_percent"] as? Double ?? (stats["observed_percent"] as? Int).map(Double.init), "\(pattern)")
            let share = 100 * Double(expected.new) / Double(max(1, expected.new + expected.current))
            #expect(abs(observed - share) < 0.01, "\(pattern): observed \(observed)%, the backends saw \(share)%")
            for side in ["current", "new"] {
                let figures = stats[side] as? [String: Any] ?? [:]
                let status = figures["status"] as? [String: Int] ?? [:]
                #expect(status["2xx"] == figures["requests"] as? Int && status["5xx"] == 0, "\(pattern) \(side): \(status)")
            }
        }
        print("status vs log (Cutover/direct ms): " + summary.joined(separator: "; "))
        #expect(served[Self.ping]?.current == 0, "the 100% group sends everything to the new service")

        // Every legacy-only path is listed with its count, under the path nginx made of it.
        let notMigrated = try #require(document["not_migrated"] as? [[String: Any]])
        var reported: [String: Int] = [:]
        for row in notMigrated {
            if let path = row["path"] as? String, let count = row["requests"] as? Int { reported[path] = count }
        }
        #expect(reported == legacy, "not_migrated \(reported), expected \(legacy)")
        let malformed = document["malformed"] as? [String: Int] ?? [:]
        #expect(malformed.values.allSatisfy { $0 == 0 }, "malformed lines: \(malformed)")
    }

    /// The nearest-rank percentile of sorted values.
    static func nearestRank(_ sorted: [Int], _ percentile: Double) -> Int {
        let rank = Int((percentile / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }
}

/// One line of a `timed` access log, read directly (independently of Cutover's parser).
struct LoggedRequest {
    /// The request target as logged (nginx escapes `"`, `\` and bytes outside printable ASCII as `\xHH`).
    var target: String
    /// `$request_time` in whole milliseconds.
    var requestTimeMs: Int
    /// Whether the line came from a migration log.
    var migration: Bool

    /// The lines of `path` (none when it does not exist).
    static func read(_ path: String) -> [LoggedRequest] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let migration = path.contains("migration")
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            // ... "GET TARGET HTTP/1.1" STATUS BYTES "REFERER" "AGENT" REQUEST_TIME UPSTREAM_TIME ADDR ID
            guard let open = line.range(of: "\"GET "), let close = line.range(of: " HTTP/1.1\"", range: open.upperBound..<line.endIndex),
                  let lastQuote = line.lastIndex(of: "\"") else { return nil }
            let tail = line[line.index(after: lastQuote)...].split(separator: " ")
            guard let time = tail.first, let ms = milliseconds(time) else { return nil }
            return LoggedRequest(target: String(line[open.upperBound..<close.lowerBound]), requestTimeMs: ms, migration: migration)
        }
    }

    /// `0.012` → 12 (truncated, as nginx prints milliseconds exactly).
    static func milliseconds(_ text: Substring) -> Int? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let seconds = Int(parts[0]), parts[1].count == 3, let millis = Int(parts[1]) else { return nil }
        return seconds * 1000 + millis
    }

    /// How nginx's default log escaping writes a request target.
    static func escaped(_ target: String) -> String {
        var out = ""
        for byte in target.utf8 {
            if byte == 0x22 || byte == 0x5C || byte < 0x20 || byte > 0x7E {
                out += String(format: "\\x%02X", byte)
            } else {
                out.unicodeScalars.append(UnicodeScalar(byte))
            }
        }
        return out
    }
}
