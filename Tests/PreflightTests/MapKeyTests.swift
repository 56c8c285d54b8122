@testable import Preflight
import Rollout
import Testing

@Suite struct MapKeyTests {
    @Test(arguments: [
        (#"~^/v2/orders/(\d+)$"#, "/v2/orders/1"),
        (#"~^/v2/content_api/book\.get_info$"#, "/v2/content_api/book.get_info"),
        (#"~*^/V2/(?:a|b)/[a-z0-9_-]+/?$"#, "/V2/a/a/"),
        (#"~^/v2/(?<kind>book|user)/x{2}$"#, "/v2/book/xx"),
        (#"~^/v2/files/[^/]+\.json$"#, "/v2/files/a.json"),
        ("/exact/path", "/exact/path"),
    ])
    func witnessIsAPathTheKeyMatches(_ key: String, _ expected: String) {
        let mapKey = MapKey(key)
        #expect(mapKey.witness == expected)
        #expect(KeyMatcher().witness(mapKey) == expected)
    }

    @Test func unescapedDotsSkipEscapesClassesAndQuantifiedDots() {
        #expect(MapKey(#"~^/a.b\.c[.]d.*e.+f.?$"#).unescapedDots == [3])
        #expect(MapKey(#"~^/a.b$"#).escapingDots == #"~^/a\.b$"#)
        #expect(MapKey("/a.b").unescapedDots.isEmpty)
    }

    @Test func endAnchors() {
        #expect(MapKey("~^/a$").hasEndAnchor)
        #expect(MapKey(#"~^/a\z"#).hasEndAnchor)
        #expect(!MapKey(#"~^/a\$"#).hasEndAnchor)
        #expect(!MapKey("~^/a").hasEndAnchor)
        #expect(MapKey("~^/a").anchored == "~^/a$")
        #expect(MapKey("~^/a|^/b").anchored == "~(?:^/a|^/b)$")
        #expect(MapKey("/a").hasEndAnchor)
    }

    @Test func capturesInPCRENumbering() {
        let key = MapKey(#"~^/(?:v1|v2)/(\w+)/(?<id>\d+)(?=x)(?P<rest>.*)$"#)
        #expect(key.captures.map(\.number) == [1, 2, 3])
        #expect(key.captures.map(\.name) == [nil, "id", "rest"])
    }

    @Test func uncapturedVariableParts() {
        #expect(MapKey(#"~^/v2/orders/\d+$"#).uncapturedVariablePart == #"\d+"#)
        #expect(MapKey(#"~^/v2/files/[^/]+$"#).uncapturedVariablePart == "[^/]+")
        #expect(MapKey(#"~^/v2/orders/(\d+)$"#).uncapturedVariablePart == nil)
        #expect(MapKey(#"~^/v2/book\.info$"#).uncapturedVariablePart == nil)
        #expect(MapKey("~^/v2/book.info$").uncapturedVariablePart == nil)
    }

    @Test func mapMatcherFollowsNginxOrder() {
        let matcher = MapMatcher(keys: [#"~^/a/\d+$"#, "/a/7", #"~^/a/(\d+)$"#])
        #expect(matcher.winner("/a/7") == 1)   // exact first
        #expect(matcher.winner("/a/8") == 0)   // then regexes in order
        #expect(matcher.winner("/b") == nil)
        #expect(KeyMatcher().matches("~^/a(", "/a") == nil)  // does not compile
    }
}
