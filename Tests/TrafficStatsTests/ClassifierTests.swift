import Foundation
import Testing
@testable import TrafficStats

@Suite struct PathNormalizerTests {
    @Test(arguments: [
        ("/a/b", "/a/b"),
        ("//a///b//", "/a/b/"),
        ("/a/./b/.", "/a/b/"),
        ("/a/b/../c", "/a/c"),
        ("/a/b/..", "/a/"),
        ("/../../x", "/x"),
        ("/..", "/"),
        ("/", "/"),
        ("/caf%C3%A9/%7euser", "/café/~user"),
        ("/a%2Fb/%2e%2e/c", "/a/c"),
        ("/a/%2E/b", "/a/b"),
        ("/100%/x%zz", "/100%/x%zz"),
        ("/v2/content_api//book.get_chapter_details", "/v2/content_api/book.get_chapter_details"),
        ("http://api.example.com//v2/x", "/v2/x"),
        ("https://api.example.com", "/"),
    ])
    func normalises(input: String, expected: String) {
        #expect(PathNormalizer.normalize(input) == expected)
    }
}

@Suite struct ClassifierTests {
    let rules = [
        EndpointRule(endpoint: "details", key: "~^/v2/content_api/book.get_chapter_details"),
        EndpointRule(endpoint: "chapters", key: "~^/v2/content_api/book.chapters"),
        EndpointRule(endpoint: "status", key: "~^/v2/content_api/book.chapters_by_status"),
        EndpointRule(endpoint: "health", key: "/v2/content_api/book.chapters_by_status/health"),
        EndpointRule(endpoint: "users", key: "~*^/V2/USERS/[0-9]+$"),
        EndpointRule(endpoint: "tilde", key: "\\~literal"),
        EndpointRule(endpoint: "ignored-default", key: "default"),
    ]

    @Test func followsNginxMapRules() throws {
        let classifier = try EndpointClassifier(rules: rules)
        #expect(classifier.names == ["details", "chapters", "status", "health", "users", "tilde", "ignored-default"])
        #expect(classifier.name(forPath: "/v2/content_api/book.get_chapter_details") == "details")
        #expect(classifier.name(forPath: "/v2/content_api/book.get_chapter_details/42") == "details")
        // Regexes in order of appearance: "chapters" comes before the more specific "chapters_by_status".
        #expect(classifier.name(forPath: "/v2/content_api/book.chapters_by_status") == "chapters")
        // Exact strings win over regexes, and ignore case.
        #expect(classifier.name(forPath: "/v2/content_api/book.chapters_by_status/health") == "health")
        #expect(classifier.name(forPath: "/V2/Content_API/book.chapters_by_status/HEALTH") == "health")
        // ~* is case-insensitive, ~ is not.
        #expect(classifier.name(forPath: "/v2/users/123") == "users")
        #expect(classifier.name(forPath: "/V2/CONTENT_API/book.get_chapter_details") == nil)
        // A leading backslash makes an exact string of a key starting with '~'.
        #expect(classifier.name(forPath: "~literal") == "tilde")
        #expect(classifier.name(forPath: "default") == nil)
        // Paths are normalised first.
        #expect(classifier.name(forPath: "/v2//content_api/./x/../book.get_chapter_details") == "details")
        #expect(classifier.name(forPath: "/v2/content_api/book%2Eget_chapter_details") == "details")
        #expect(classifier.name(forPath: "/v3/other") == nil)
    }

    @Test func rejectsInvalidRegexesWithAMessage() {
        #expect(throws: ClassifierError.self) { try EndpointClassifier(rules: [EndpointRule(endpoint: "x", key: "~^/v2/(unclosed")]) }
        do {
            _ = try EndpointClassifier(rules: [EndpointRule(endpoint: "x", key: "~^/v2/(unclosed")])
        } catch {
            #expect("\(error)".contains("~^/v2/(unclosed"))
        }
    }

    @Test func literalPrefixFilterNeverChangesTheAnswer() throws {
        #expect(CompiledRegex.literalPrefix(Array("^/v2/api".utf8), caseless: false) == Array("/v2/api".utf8))
        #expect(CompiledRegex.literalPrefix(Array("^/v2/ab?c".utf8), caseless: false) == Array("/v2/a".utf8))
        #expect(CompiledRegex.literalPrefix(Array("^/a|^/b".utf8), caseless: false).isEmpty)
        #expect(CompiledRegex.literalPrefix(Array("/v2".utf8), caseless: false).isEmpty)
        #expect(CompiledRegex.literalPrefix(Array("^/V2".utf8), caseless: true) == Array("/v2".utf8))
        let classifier = try EndpointClassifier(rules: [EndpointRule(endpoint: "opt", key: "~^/v2/ab?c"),
                                                        EndpointRule(endpoint: "ci", key: "~*^/API/x")])
        #expect(classifier.name(forPath: "/v2/ac") == "opt")
        #expect(classifier.name(forPath: "/v2/abc") == "opt")
        #expect(classifier.name(forPath: "/api/X") == "ci")
    }

    @Test func cacheStaysBoundedAndAgreesWithUncachedResults() throws {
        let classifier = try EndpointClassifier(rules: rules, cacheEntries: 64)
        for i in 0..<5000 {
            let path = i % 3 == 0 ? "/v2/users/\(i)" : "/v2/unknown/\(i)/with/a/rather/long/path/to/skip/the/inline/bytes"
            let expected = i % 3 == 0 ? "users" : nil
            #expect(classifier.name(forPath: path) == expected)
            #expect(classifier.name(forPath: path) == expected)
            #expect(classifier.cachedPaths <= 64)
        }
        #expect(classifier.cacheResets > 0)
        #expect(classifier.cacheHits >= 5000)
    }

    @Test func bytesAndHashes() {
        let a = Array("/v2/content_api/book.get_chapter_details".utf8)
        var b = a
        b[b.count - 1] = UInt8(ascii: "t")
        #expect(a.withUnsafeBytes { ByteHash.hash($0) } == a.withUnsafeBytes { ByteHash.hash($0) })
        #expect(a.withUnsafeBytes { ByteHash.hash($0) } != b.withUnsafeBytes { ByteHash.hash($0) })
    }
}

@Suite struct HeavyHittersTests {
    @Test func keepsTheBusiestKeysWithinCapacity() {
        var hitters = HeavyHitters(capacity: 10)
        var state: UInt64 = 42
        for round in 0..<20_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            // Three heavy keys (about 30% of traffic each would be "hot") and a long tail of unique keys.
            let key: UInt64 = round % 10 < 6 ? UInt64(round % 3) : 1000 + UInt64(round)
            if !hitters.increment(key) { hitters.insert(key, label: "k\(key)") }
            #expect(hitters.count <= 10)
        }
        let top = hitters.top(3)
        #expect(Set(top.map(\.label)) == ["k0", "k1", "k2"])
        #expect(top.allSatisfy { $0.count >= 4000 })
        #expect(hitters.total == 20_000)
    }

    @Test func keyIndexHandlesRemovalInsideClusters() {
        var index = KeyIndex(capacity: 8)
        let keys: [UInt64] = (0..<8).map { $0 * 16 }  // all collide in a 16-slot table
        for (slot, key) in keys.enumerated() { index.insert(key, slot: slot) }
        index.remove(keys[2])
        #expect(index.find(keys[2]) == -1)
        for (slot, key) in keys.enumerated() where slot != 2 { #expect(index.find(key) == slot) }
    }
}

@Suite struct ProportionsTests {
    @Test func wilsonInterval() throws {
        let half = try #require(Proportions.wilson(successes: 50, trials: 100))
        #expect(abs(half.low - 0.4038315303659956) < 1e-12)
        #expect(abs(half.high - 0.5961684696340044) < 1e-12)
        let none = try #require(Proportions.wilson(successes: 0, trials: 10))
        #expect(none.low == 0)
        #expect(abs(none.high - 0.2775327998628892) < 1e-12)
        #expect(Proportions.wilson(successes: 0, trials: 0) == nil)
    }

    @Test func exactBinomialMatchesR() {
        #expect(abs(Proportions.binomialTestPValue(successes: 7, trials: 20, p: 0.5) - 0.26317596435546875) < 1e-9)
        #expect(abs(Proportions.binomialTestPValue(successes: 682, trials: 925, p: 0.75) - 0.3824915595748515) < 1e-9)
        #expect(abs(Proportions.binomialTestPValue(successes: 30, trials: 100, p: 0.25) - 0.24907145667188751) < 1e-9)
        #expect(Proportions.binomialTestPValue(successes: 1, trials: 10, p: 0) == 0)
        #expect(Proportions.binomialTestPValue(successes: 10, trials: 10, p: 1) == 1)
    }

    @Test func chiSquareAndSampleRatioMismatch() {
        #expect(abs(Proportions.chiSquarePValue(successes: 60, trials: 100, p: 0.5) - 0.045500263896358396) < 1e-12)
        // 25% configured; 2,600 of 10,000 is within noise, 2,800 of 10,000 is not.
        #expect(Proportions.sampleRatioPValue(newCount: 2600, total: 10_000, configuredFraction: 0.25) > 0.001)
        #expect(Proportions.sampleRatioPValue(newCount: 2800, total: 10_000, configuredFraction: 0.25) < 0.001)
        #expect(Proportions.sampleRatioPValue(newCount: 40, total: 100, configuredFraction: 0.25) < 0.01)
    }

    @Test func twoProportionZTest() throws {
        let p = try #require(Proportions.twoProportionPValue(x1: 45, n1: 100, x2: 30, n2: 100))
        #expect(abs(p - 0.02845973691631057) < 1e-9)
        #expect(Proportions.twoProportionPValue(x1: 0, n1: 10, x2: 0, n2: 10) == 1)
        #expect(Proportions.twoProportionPValue(x1: 1, n1: 0, x2: 0, n2: 10) == nil)
    }
}

@Suite struct PrefixIndexTests {
    @Test func groupedLookupKeepsOrderOfAppearance() throws {
        let classifier = try EndpointClassifier(rules: [
            EndpointRule(endpoint: "long", key: "~^/api/abc/x"),
            EndpointRule(endpoint: "suffix", key: "~x$"),
            EndpointRule(endpoint: "short", key: "~^/api/a"),
            EndpointRule(endpoint: "caseless", key: "~*^/API/B"),
        ])
        #expect(classifier.name(forPath: "/api/abc/x") == "long")
        #expect(classifier.name(forPath: "/api/abx") == "suffix")
        #expect(classifier.name(forPath: "/api/aby") == "short")
        #expect(classifier.name(forPath: "/Api/b/1") == "caseless")
        #expect(classifier.name(forPath: "/api/c") == nil)
    }

    @Test func agreesWithTryingEveryRegexInOrder() throws {
        var rules: [EndpointRule] = []
        for i in 0..<120 {
            switch i % 4 {
            case 0: rules.append(EndpointRule(endpoint: "e\(i)", key: "~^/v2/content_api/book.method_\(i)"))
            case 1: rules.append(EndpointRule(endpoint: "e\(i)", key: "~*^/V2/Users/\(i)/"))
            case 2: rules.append(EndpointRule(endpoint: "e\(i)", key: "~/item_\(i)$"))
            default: rules.append(EndpointRule(endpoint: "e\(i)", key: "~^/v2/content_api/book.method_\(i / 10)"))
            }
        }
        let classifier = try EndpointClassifier(rules: rules, cacheEntries: 16)
        let compiled = try rules.map { rule -> CompiledRegex in
            let caseless = rule.key.hasPrefix("~*")
            return try CompiledRegex(pattern: String(rule.key.dropFirst(caseless ? 2 : 1)), caseless: caseless, key: rule.key)
        }
        var state: UInt64 = 7
        for _ in 0..<3000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let n = Int(state >> 40) % 130
            let path: String
            switch (state >> 20) % 4 {
            case 0: path = "/v2/content_api/book.method_\(n)"
            case 1: path = "/v2/USERS/\(n)/x"
            case 2: path = "/x/item_\(n)"
            default: path = "/v2/content_api/book.method_\(n)/item_\(n % 7)"
            }
            let bytes = Array(path.utf8)
            let expected = bytes.withUnsafeBytes { raw in compiled.firstIndex { $0.matches(raw) } }.map { rules[$0].name }
            #expect(classifier.name(forPath: path) == expected)
        }
    }
}
