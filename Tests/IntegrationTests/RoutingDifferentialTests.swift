import Foundation
import NginxConfig
import Rollout
import Testing
import TestSupport

/// nginx's `ngx_murmur_hash2`, used only to pick request keys spread evenly over the hash range, so that a
/// few hundred requests measure nginx's real split to within one key per bucket boundary.
func murmurHash2(_ bytes: [UInt8]) -> UInt32 {
    let m: UInt32 = 0x5BD1_E995
    var h: UInt32 = 0 ^ UInt32(bytes.count)
    var i = 0
    while bytes.count - i >= 4 {
        var k = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
        k = k &* m
        k ^= k >> 24
        k = k &* m
        h = h &* m
        h ^= k
        i += 4
    }
    let rest = bytes.count - i
    if rest >= 3 { h ^= UInt32(bytes[i + 2]) << 16 }
    if rest >= 2 { h ^= UInt32(bytes[i + 1]) << 8 }
    if rest >= 1 {
        h ^= UInt32(bytes[i])
        h = h &* m
    }
    h ^= h >> 13
    h = h &* m
    h ^= h >> 15
    return h
}

/// One key per stratum of the 32-bit hash range: `strata` keys whose murmur2 hashes fall in
/// [i/strata, (i+1)/strata) of the range, one for each i.
func stratifiedKeys(_ strata: Int) -> [String] {
    var keys = [String?](repeating: nil, count: strata)
    var filled = 0
    var n = 0
    while filled < strata && n < 1_000_000 {
        let key = "k\(n)"
        let slot = Int((UInt64(murmurHash2(Array(key.utf8))) * UInt64(strata)) >> 32)
        if keys[slot] == nil { keys[slot] = key; filled += 1 }
        n += 1
    }
    return keys.compactMap { $0 }
}

/// The differential suite: random `split_clients` blocks and random chains of edits on them, each judged by the
/// real nginx (`nginx -t`) against Cutover's verdict, and each routed share measured through the real nginx
/// against the share Cutover reports. Any disagreement fails. Seeded (`CUTOVER_DIFF_SEED` replays another run).
@Suite(.serialized) struct RoutingDifferentialTests {
    static let seed = UInt64(ProcessInfo.processInfo.environment["CUTOVER_DIFF_SEED"] ?? "") ?? 20261201
    static let cases = 60
    static let strata = 200

    /// A random percent word: 0–3 decimals, some invalid (three decimals, 0%).
    static func percentWord(_ hundredths: Int, decimals: Int, using rng: inout SeededRandom) -> String {
        let whole = hundredths / 100, frac = hundredths % 100
        switch decimals {
        case 0: return "\(whole)%"
        case 1: return "\(whole).\(frac / 10)%"
        case 2: return "\(whole).\(frac < 10 ? "0" : "")\(frac)%"
        default: return "\(whole).\(frac < 10 ? "0" : "")\(frac)\(Int.random(in: 0...9, using: &rng))%"
        }
    }

    /// A random block body: 1–5 entries whose percents total around 100%, `*` missing, last, in the middle or twice.
    static func randomBlock(using rng: inout SeededRandom) -> String {
        let count = Int.random(in: 1...5, using: &rng)
        let total = Int.random(in: 8000...10500, using: &rng)
        var cuts = (0..<(count - 1)).map { _ in Int.random(in: 0...total, using: &rng) }.sorted()
        cuts = [0] + cuts + [total]
        var lines: [String] = []
        for i in 0..<count {
            let width = cuts[i + 1] - cuts[i]
            let decimals = [0, 0, 0, 1, 2, 2, 3].randomElement(using: &rng) ?? 0
            let rounded = decimals == 0 ? (width / 100) * 100 : decimals == 1 ? (width / 10) * 10 : width
            let value = Bool.random(using: &rng) ? "\"new_service\"" : "\"current_service\""
            lines.append("\(percentWord(rounded, decimals: decimals, using: &rng)) \(value);")
        }
        let star = { (v: Bool) in "* \(v ? "\"new_service\"" : "\"current_service\"");" }
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: break                                                         // no `*`
        case 1: lines.insert(star(Bool.random(using: &rng)), at: Int.random(in: 0..<lines.count, using: &rng))  // in the middle
        case 2: lines += [star(Bool.random(using: &rng)), star(Bool.random(using: &rng))]  // twice
        default: lines.append(star(Bool.random(using: &rng)))                 // last
        }
        return lines.map { "    " + $0 }.joined(separator: "\n")
    }

    static func routing(block: String) -> String {
        """
        map $uri $target_path {
            /v2/probe "/new/probe";
        }
        map $target_path $is_migratable {
            "" 0;
            default 1;
        }
        split_clients "${arg_k}" $group1_routing {
        \(block)
        }
        map $uri $split_group {
            /v2/probe "$group1_routing";
        }
        map $is_migratable $api_routing {
            0 "current_service";
            1 $split_group;
        }

        """
    }

    static func randomEdit(using rng: inout SeededRandom) -> RolloutEdit {
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: return .rollbackAll
        case 1: return .resume
        case 2: return .setGroupPercent(group: "group1_routing", percent: .zero, create: false)
        default:
            let decimals = Int.random(in: 0...2, using: &rng)
            let p = Int.random(in: 0...10000, using: &rng)
            let h = decimals == 0 ? (p / 100) * 100 : decimals == 1 ? (p / 10) * 10 : p
            return .setGroupPercent(group: "group1_routing", percent: Percent(hundredths: h), create: false)
        }
    }

    /// A config text with Cutover's share for the probe endpoint, to be measured through nginx.
    struct Probe {
        var label: String
        var text: String
        var reported: Percent
        var entries: Int
    }

    @Test func nginxAndCutoverAgreeOnVerdictsAndRoutedShares() throws {
        let check = try NginxSyntaxCheck()
        defer { check.cleanup() }
        var rng = SeededRandom(seed: Self.seed)
        let path = check.dir.appendingPathComponent("routing.conf").path
        var probes: [Probe] = []
        var verdicts = 0
        for n in 0..<Self.cases {
            let text = Self.routing(block: Self.randomBlock(using: &rng))
            var editor = RolloutEditor(config: try ConfigSet.fromTexts([(path, text)]))
            let nginx = try check.test(routing: text)
            let cutoverAccepts = !editor.model.problems.contains { $0.kind.rejectedByNginx }
            verdicts += 1
            #expect(nginx.ok == cutoverAccepts, "case \(n) (seed \(Self.seed)): nginx says \(nginx.ok ? "ok" : nginx.message), Cutover's problems: \(editor.model.problems)\n\(text)")
            guard nginx.ok, cutoverAccepts else { continue }
            let endpoint = try #require(editor.model.endpoints.first)
            probes.append(Probe(label: "case \(n) as written", text: text, reported: endpoint.percent, entries: editor.model.groups.first?.entries.count ?? 0))
            for step in 0..<Int.random(in: 2...5, using: &rng) {
                let edit = Self.randomEdit(using: &rng)
                guard let result = try? editor.apply(edit) else { continue }
                let after = try #require(result.config.text(of: path))
                let nginxAfter = try check.test(routing: after)
                verdicts += 1
                let cutoverAfter = !result.model.problems.contains { $0.kind.rejectedByNginx }
                #expect(nginxAfter.ok && cutoverAfter, "case \(n) step \(step) \(edit) (seed \(Self.seed)): Cutover applied an edit nginx refuses: \(nginxAfter.message)\n\(after)")
                if case .setGroupPercent(_, let p, _) = edit {
                    #expect(result.model.groups.first?.percent == p, "case \(n) step \(step): asked for \(p), Cutover reports \(String(describing: result.model.groups.first?.percent))")
                }
                if case .rollbackAll = edit {
                    #expect(result.model.endpoints.allSatisfy { $0.percent == .zero }, "case \(n) step \(step): rollback left \(result.model.endpoints.map(\.percent))")
                }
                let reported = try #require(result.model.endpoints.first).percent
                probes.append(Probe(label: "case \(n) after \(step + 1) edits (\(edit))", text: after, reported: reported,
                                    entries: result.model.groups.first?.entries.count ?? 0))
                editor = RolloutEditor(config: result.config, model: result.model)
            }
        }
        #expect(verdicts >= Self.cases)
        #expect(probes.count >= Self.cases / 2, "too few valid cases to measure: \(probes.count)")
        try measure(probes)
    }

    /// Routes requests for the probe endpoint through one real nginx per batch (each probe's config in its own
    /// server on its own port) and compares the measured new-service share with Cutover's.
    func measure(_ probes: [Probe]) throws {
        let keys = stratifiedKeys(Self.strata)
        #expect(keys.count == Self.strata)
        for batch in stride(from: 0, to: probes.count, by: 40).map({ Array(probes[$0..<min($0 + 40, probes.count)]) }) {
            let nginx = try NginxHarness(binary: NginxSyntaxCheck.nginxBinary)
            defer { nginx.stop() }
            let ports = try FreePort.allocate(batch.count)
            var servers = ""
            for (i, probe) in batch.enumerated() {
                // Each probe's maps and group renamed apart, so all of them live in one http block.
                let renamed = probe.text
                    .replacingOccurrences(of: "$target_path", with: "$target_path_\(i)")
                    .replacingOccurrences(of: "$is_migratable", with: "$is_migratable_\(i)")
                    .replacingOccurrences(of: "$group1_routing", with: "$group1_routing_\(i)")
                    .replacingOccurrences(of: "$split_group", with: "$split_group_\(i)")
                    .replacingOccurrences(of: "$api_routing", with: "$api_routing_\(i)")
                servers += renamed + """
                server {
                    listen 127.0.0.1:\(ports[i]);
                    location / { return 200 "$api_routing_\(i)"; }
                }

                """
            }
            try nginx.write("conf.d/probes.conf", servers)
            try nginx.write("nginx.conf", nginx.standardMainConfig())
            try nginx.start(waitingFor: ports)
            for (i, probe) in batch.enumerated() {
                let client = HTTPTestClient(port: ports[i])
                var new = 0
                for key in keys {
                    let body = try client.get("/v2/probe?k=\(key)").body
                    if body == "new_service" { new += 1 }
                }
                let measured = Double(new) / Double(keys.count) * 100
                let tolerance = Double(probe.entries + 1) / Double(keys.count) * 100
                #expect(abs(measured - probe.reported.value) <= tolerance + 1e-9,
                        "\(probe.label) (seed \(Self.seed)): nginx routed \(measured)% to the new service, Cutover reports \(probe.reported.nginxText)\n\(probe.text)")
            }
        }
    }
}

/// The cases of issue 10, each judged by `nginx -t` and by Cutover: they must agree.
@Suite(.serialized) struct IssueCasesVerdictTests {
    static let cases: [(name: String, splits: String, whitelist: String)] = [
        ("repeated regex key (accepted)", "", "\n    ~^/v2/api/a$ \"/v2/a2\";"),
        ("second map $uri $target_path (accepted)", "map $uri $target_path { /v2/x \"/y\"; }", ""),
        ("split variable defined twice (accepted)", "split_clients \"${request_id}\" $group1_routing { 5% \"new_service\"; * \"current_service\"; }", ""),
        ("two stars (accepted)", "split_clients \"${request_id}\" $g3 { 10% \"new_service\"; * \"current_service\"; * \"new_service\"; }", ""),
        ("star in the middle", "split_clients \"${request_id}\" $g3 { 10% \"new_service\"; * \"current_service\"; 5% \"new_service\"; }", ""),
        ("unknown variable in the split key", "split_clients \"${no_such_var}\" $g3 { 10% \"new_service\"; * \"current_service\"; }", ""),
        ("output variable without $", "split_clients \"${request_id}\" g3 { 10% \"new_service\"; * \"current_service\"; }", ""),
        ("duplicate built-in output variable", "split_clients \"${request_id}\" $uri { 10% \"new_service\"; * \"current_service\"; }", ""),
        ("exact keys differing in case", "", "\n    /v2/API/exact \"/v2/exact2\";"),
        ("regex PCRE2 rejects", "", "\n    \"~^/v2/a**$\" \"/v2/x\";"),
        ("regex with {3,1}", "", "\n    \"~^/v2/a{3,1}$\" \"/v2/x\";"),
        ("duplicate capture names", "", "\n    \"~^/(?<x>a)(?<x>b)$\" \"/v2/x\";"),
        ("target naming an unknown variable", "", "\n    /v3/a \"/v3/$nosuchvar\";"),
        ("target with an unclosed ${", "", "\n    /v3/b \"/v3/${x\";"),
        ("target with a capture and $arg_ (accepted)", "", "\n    ~^/v3/(\\d+)$ \"/v3/$1/$arg_id\";"),
        ("# right after a quote", "", "\n    /v3/c \"/v3/c\"#c\n;"),
        ("4096-byte token", "split_clients \"${request_id}\" $g4 { 10% \(String(repeating: "d", count: 4096)); * \"current_service\"; }", ""),
        ("4095-byte token (accepted)", "split_clients \"${request_id}\" $g4 { 10% \(String(repeating: "d", count: 4095)); * \"current_service\"; }", ""),
        ("4096-byte comment", "# \(String(repeating: "c", count: 4094))\nsplit_clients \"${request_id}\" $g4 { 10% a; * b; }", ""),
    ]

    @Test(arguments: cases.indices)
    func nginxAndCutoverAgree(index: Int) throws {
        let c = Self.cases[index]
        let check = try NginxSyntaxCheck()
        defer { check.cleanup() }
        let text = check.routing(splits: c.splits, extraWhitelist: c.whitelist)
        let nginx = try check.test(routing: text)
        let cutover: Bool
        if let config = try? ConfigSet.fromTexts([("/tmp/issue-case.conf", text)]) {
            cutover = !Discovery.discover(config).problems.contains { $0.kind.rejectedByNginx }
        } else {
            cutover = false
        }
        #expect(nginx.ok == cutover, "\(c.name): nginx \(nginx.ok ? "accepts" : "refuses: \(nginx.message)"), Cutover \(cutover ? "accepts" : "refuses")")
        #expect(c.name.hasSuffix("(accepted)") == nginx.ok, "\(c.name): \(nginx.message)")
    }
}
