import AccessLog
import Foundation

/// The verdict's proving ground: synthetic traffic in the lab's log format over the lab's eight endpoints at
/// their configured split, read by the real parser and aggregator, judged at every look of an operator.
///
/// One run writes `rate` requests per second of log time for `seconds` seconds (each request goes to the new
/// service with its endpoint's configured percent, independently), and takes a snapshot every `lookEvery`
/// seconds of log time. Seeded: the same seed gives the same run. Used by the simulation test and by
/// `cutover-bench verdict`.
public enum VerdictLab {
    /// One endpoint of the lab: its map key, a request path, its configured percent and its share of traffic.
    public struct Endpoint: Sendable, Hashable {
        public var name: String
        public var path: String
        public var percent: Double
        public var weight: Double
    }

    /// The log format of the lab's nginx (the integration tests' `timed` format).
    public static let format = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
        + "\"$http_referer\" \"$http_user_agent\" $request_time $upstream_response_time $upstream_addr $request_id"

    /// The eight endpoints, from 1% to 100%.
    public static let endpoints: [Endpoint] = {
        let api = "/v2/content_api/"
        return [
            Endpoint(name: "book.get_chapter_details", path: api + "book.get_chapter_details", percent: 1, weight: 14),
            Endpoint(name: "book.chapters_by_status", path: api + "book.chapters_by_status", percent: 5, weight: 10),
            Endpoint(name: "book.get_book_info", path: api + "book.get_book_info", percent: 10, weight: 12),
            Endpoint(name: "user.get_bookmarks", path: api + "user.get_bookmarks", percent: 25, weight: 8),
            Endpoint(name: "user.get_profile", path: api + "user.get_profile", percent: 50, weight: 9),
            Endpoint(name: "search.query", path: api + "search.query", percent: 50, weight: 16),
            Endpoint(name: "book.list_reviews", path: api + "book.list_reviews", percent: 75, weight: 6),
            Endpoint(name: "catalog.get_categories", path: api + "catalog.get_categories", percent: 100, weight: 5),
        ]
    }()

    /// How one service answers: a log-normal latency and shares of 5xx and 4xx.
    public struct Service: Sendable, Hashable {
        public var medianMs: Double = 40
        public var sigma: Double = 0.5
        public var errorShare: Double = 0.01
        public var clientErrorShare: Double = 0.01

        /// Creates a service.
        public init(medianMs: Double = 40, sigma: Double = 0.5, errorShare: Double = 0.01, clientErrorShare: Double = 0.01) {
            self.medianMs = medianMs
            self.sigma = sigma
            self.errorShare = errorShare
            self.clientErrorShare = clientErrorShare
        }

        /// The same service, `factor` times slower, with another 5xx share.
        public func degraded(latency factor: Double, errorShare: Double) -> Service {
            Service(medianMs: medianMs * factor, sigma: sigma, errorShare: errorShare, clientErrorShare: clientErrorShare)
        }
    }

    /// What a run does.
    public struct Plan: Sendable {
        public var seed: UInt64
        public var rate: Double = 600
        public var seconds: Int = 600
        public var lookEvery: Int = 15
        public var current = Service()
        /// The new service per endpoint index (the current one's twin when absent).
        public var new: [Int: Service] = [:]
        public var settings = VerdictSettings(timeZone: TimeZone(identifier: "UTC") ?? .current)
        /// Whether requests go through log lines, the parser and the aggregator (`cutover-bench verdict`), or
        /// straight into each endpoint's evidence for the verdict (the fast simulation test; the aggregator's own
        /// bookkeeping is tested apart).
        public var throughLogLines = true

        /// Creates a plan: the null (both services the same) unless `new` says otherwise.
        public init(seed: UInt64, new: [Int: Service] = [:]) {
            self.seed = seed
            self.new = new
        }
    }

    /// One look at one endpoint.
    public struct Look: Sendable, Hashable {
        public var time: Int64
        public var state: VerdictState
        public var newRequests: Int
        public var currentRequests: Int
    }

    /// Every look at every endpoint, and the last verdicts.
    public struct Run: Sendable {
        /// Per endpoint, the looks in order.
        public var looks: [[Look]]
        /// Per endpoint, the verdict at the last look.
        public var final: [Verdict]
        /// Lines written and read.
        public var lines: Int

        /// Whether an endpoint was ever `bad` at a look.
        public func everBad(_ endpoint: Int) -> Bool { looks[endpoint].contains { $0.state == .bad } }

        /// The first look at which an endpoint was `bad`.
        public func firstBad(_ endpoint: Int) -> Look? { looks[endpoint].first { $0.state == .bad } }
    }

    /// The log time the runs start at (2026-12-01 12:00:00 UTC).
    public static let start: Int64 = 1_796_126_400

    /// Runs the plan through the real log parser and aggregator.
    public static func run(_ plan: Plan) throws -> Run {
        plan.throughLogLines ? try runThroughLogLines(plan) : runOnEvidence(plan)
    }

    /// The same traffic recorded straight into each endpoint's evidence and judged at every look.
    static func runOnEvidence(_ plan: Plan) -> Run {
        var traffic = Traffic(plan)
        let percents = endpoints.map(\.percent)
        var evidence = Array(repeating: [SideEvidence(), SideEvidence()], count: endpoints.count)
        var looks = Array(repeating: [Look](), count: endpoints.count)
        var final = Array(repeating: Verdict.unknown, count: endpoints.count)
        let perSecond = Int(plan.rate)
        var lines = 0
        for second in 0..<plan.seconds {
            for _ in 0..<perSecond {
                let r = traffic.next()
                evidence[r.endpoint][r.toNew ? 1 : 0].record(status: r.status, latencyMs: r.ms, nginxMade: r.status >= 500 ? false : nil)
                lines += 1
            }
            if (second + 1) % plan.lookEvery == 0 {
                let time = start + Int64(second)
                for i in endpoints.indices {
                    var new = evidence[i][1]
                    new.rate = Double(new.requests) / Double(second + 1)
                    let verdict = Verdict.judge(current: evidence[i][0], new: new, configuredPercent: percents[i], since: nil, settings: plan.settings)
                    looks[i].append(Look(time: time, state: verdict.state, newRequests: verdict.newRequests, currentRequests: verdict.currentRequests))
                    final[i] = verdict
                }
            }
        }
        return Run(looks: looks, final: final, lines: lines)
    }

    /// The requests of a run, one at a time: which endpoint, which service, what status, how long.
    struct Traffic {
        var random: Random
        let cumulative: [Double]
        let percents: [Double]
        let services: [(current: Service, new: Service)]

        init(_ plan: Plan) {
            random = Random(seed: plan.seed)
            let totalWeight = endpoints.reduce(0) { $0 + $1.weight }
            var cumulative: [Double] = []
            var sum = 0.0
            for e in endpoints {
                sum += e.weight / totalWeight
                cumulative.append(sum)
            }
            self.cumulative = cumulative
            percents = endpoints.map(\.percent)
            services = endpoints.indices.map { (current: plan.current, new: plan.new[$0] ?? plan.current) }
        }

        mutating func next() -> (endpoint: Int, toNew: Bool, status: Int, ms: Int) {
            let u = random.uniform()
            var index = 0
            while index < cumulative.count - 1 && u >= cumulative[index] { index += 1 }
            let toNew = random.uniform() * 100 < percents[index]
            let service = toNew ? services[index].new : services[index].current
            let roll = random.uniform()
            let status = roll < service.errorShare ? 500 : (roll < service.errorShare + service.clientErrorShare ? 404 : 200)
            let ms = max(1, Int((service.medianMs * exp(service.sigma * random.normal())).rounded()))
            return (index, toNew, status, ms)
        }
    }

    static func runThroughLogLines(_ plan: Plan) throws -> Run {
        let logFormat = try LogFormat(name: "timed", template: format)
        let rules = endpoints.map { EndpointRule(endpoint: $0.name, key: "~^" + $0.path.replacingOccurrences(of: ".", with: "\\.") + "$") }
        let aggregator = try TrafficAggregator(configuration: TrafficConfiguration(rules: rules, verdict: plan.settings))
        for (e, rule) in zip(endpoints, rules) { aggregator.setConfiguredPercent(e.percent, endpoint: rule.id, at: start) }
        let parser = LogLineParser(format: logFormat)
        var traffic = Traffic(plan)
        var looks = Array(repeating: [Look](), count: endpoints.count)
        var final = Array(repeating: Verdict.unknown, count: endpoints.count)
        var line = [UInt8]()
        line.reserveCapacity(400)
        var lines = 0
        let perSecond = Int(plan.rate)
        // Everything constant is bytes made once: the loop below only copies and formats numbers.
        let heads = endpoints.map { Array("] \"GET \($0.path) HTTP/1.1\" ".utf8) }
        let client = Array("10.0.0.1 - - [".utf8), middle = Array(" 120 \"-\" \"lab\" ".utf8)
        let newAddress = Array(" 127.0.0.1:9000 ".utf8), currentAddress = Array(" 127.0.0.1:8000 ".utf8)
        for second in 0..<plan.seconds {
            let time = start + Int64(second)
            let stamp = Array(timeLocal(time).utf8)
            for _ in 0..<perSecond {
                let (index, toNew, status, ms) = traffic.next()
                line.removeAll(keepingCapacity: true)
                line.append(contentsOf: client)
                line.append(contentsOf: stamp)
                line.append(contentsOf: heads[index])
                appendNumber(status, to: &line)
                line.append(contentsOf: middle)
                appendSeconds(ms, to: &line)
                line.append(0x20)
                appendSeconds(max(0, ms - 1), to: &line)
                line.append(contentsOf: toNew ? newAddress : currentAddress)
                appendNumber(lines, to: &line)
                lines += 1
                let parsed = line.withUnsafeBytes { parser.parse($0) }
                guard parsed else { continue }
                aggregator.add(parser, role: toNew ? .migration : .main, fallbackTime: time)
            }
            if (second + 1) % plan.lookEvery == 0 {
                let snapshot = aggregator.snapshot(.all)
                for (i, entry) in snapshot.endpoints.enumerated() {
                    looks[i].append(Look(time: time, state: entry.verdict.state, newRequests: entry.verdict.newRequests,
                                         currentRequests: entry.verdict.currentRequests))
                    final[i] = entry.verdict
                }
            }
        }
        return Run(looks: looks, final: final, lines: lines)
    }

    /// `dd/Mon/yyyy:HH:MM:SS +0000` of a Unix time.
    static func timeLocal(_ time: Int64) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(time)))
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return String(format: "%02d/%@/%04d:%02d:%02d:%02d +0000", c.day ?? 1, months[max(0, (c.month ?? 1) - 1)], c.year ?? 1970,
                      c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    static func appendNumber(_ n: Int, to line: inout [UInt8]) {
        if n >= 10 { appendNumber(n / 10, to: &line) }
        line.append(UInt8(0x30 + n % 10))
    }

    /// Milliseconds as nginx prints `$request_time` (seconds with three decimals).
    static func appendSeconds(_ ms: Int, to line: inout [UInt8]) {
        appendNumber(ms / 1000, to: &line)
        line.append(0x2E)
        let rest = ms % 1000
        line.append(UInt8(0x30 + rest / 100))
        line.append(UInt8(0x30 + rest / 10 % 10))
        line.append(UInt8(0x30 + rest % 10))
    }

    /// `SplitMix64` with uniform and normal draws.
    struct Random {
        var generator: SplitMix64
        var spare: Double?

        init(seed: UInt64) { generator = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678) }

        mutating func next() -> UInt64 { generator.next() }

        /// A uniform draw in [0, 1).
        mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

        /// A standard normal draw (Box-Muller).
        mutating func normal() -> Double {
            if let spare {
                self.spare = nil
                return spare
            }
            let u = max(uniform(), 1e-300), v = uniform()
            let r = (-2 * log(u)).squareRoot()
            spare = r * sin(2 * Double.pi * v)
            return r * cos(2 * Double.pi * v)
        }
    }
}
