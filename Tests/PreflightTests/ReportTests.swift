import Foundation
@testable import Preflight
import Rollout
import Testing

@Suite struct ReportTests {
    let findings = [
        Finding(.unescapedDot, .warning, "map key `~^/a.b` has an unescaped `.`", at: SourceLocation(file: "/etc/nginx/api.conf", line: 14),
                fix: "write `~^/a\\.b \"/x\";`"),
        Finding(.nginxVersion, .info, "nginx 1.22.1 (nginx)", at: nil),
        Finding(.logStale, .warning, "quote \" and\nnewline\u{1}", at: SourceLocation(file: "/var/log/a.log", line: 0)),
    ]

    /// The fix of a missing part of the pattern comes from the snippet the problem carries, not from its words.
    @Test func aMissingPartsFixIsTheSnippetItCarries() {
        let location = SourceLocation(file: "/etc/nginx/api.conf", line: 1)
        let problem = Problem(.patternIncomplete, .warning, "no routing map found", expected: "`map $a $b { 0 x; }`", at: location)
        #expect(problem.message == "no routing map found: expected `map $a $b { 0 x; }`")
        #expect(ProblemMapping.fix(for: .patternIncomplete, problem: problem, names: RolloutNames()) == "add `map $a $b { 0 x; }`")
        var reworded = problem
        reworded.message = "the routing map is missing (see the README)"
        #expect(ProblemMapping.fix(for: .patternIncomplete, problem: reworded, names: RolloutNames()) == "add `map $a $b { 0 x; }`",
                "rewording the message does not lose the fix")
    }

    @Test func exitCodes() {
        #expect(PreflightReport.exitCode([]) == 0)
        #expect(PreflightReport.exitCode([findings[1]]) == 0)
        #expect(PreflightReport.exitCode(findings) == 1)
        #expect(PreflightReport.exitCode(findings + [Finding(.nginxMissing, .error, "x", at: nil)]) == 2)
    }

    @Test func oneLinePerFinding() {
        #expect(PreflightReport.line(findings[0])
                == "warning /etc/nginx/api.conf:14 [unescaped-dot] map key `~^/a.b` has an unescaped `.` — fix: write `~^/a\\.b \"/x\";`")
        #expect(PreflightReport.line(findings[1]) == "info    (environment) [nginx-version] nginx 1.22.1 (nginx)")
        let text = PreflightReport.text(findings)
        #expect(text.split(separator: "\n").count == 4)
        #expect(text.hasSuffix("0 errors, 2 warnings, 1 info\n"))
        #expect(PreflightReport.text([]) == "no findings\n")
    }

    @Test func jsonHasStableKeysAndExplicitNulls() throws {
        let json = PreflightReport.json(Array(findings.prefix(2)))
        #expect(json == #"{"findings": [{"id": "unescaped-dot", "severity": "warning", "message": "map key `~^/a.b` has an unescaped `.`", "file": "/etc/nginx/api.conf", "line": 14, "fix": "write `~^/a\\.b \"/x\";`"}, {"id": "nginx-version", "severity": "info", "message": "nginx 1.22.1 (nginx)", "file": null, "line": null, "fix": null}]}"#)
        // Control characters and quotes are escaped so the document parses back.
        let parsed = try JSONSerialization.jsonObject(with: Data(PreflightReport.json(findings).utf8)) as? [String: Any]
        let list = try #require(parsed?["findings"] as? [[String: Any]])
        #expect(list.count == 3)
        #expect(list[2]["message"] as? String == "quote \" and\nnewline\u{1}")
        #expect(list[2]["line"] is NSNull)
        #expect(PreflightReport.json([]) == #"{"findings": []}"#)
    }

    @Test func findingsAreOrderedBySeverityThenPlace() throws {
        let sorted = Preflight.sorted(findings)
        #expect(sorted.map(\.id) == ["unescaped-dot", "log-stale", "nginx-version"])
        let all = try Fixture.check(try Fixture.text("reference-sample.conf"))
        let ranks = all.map { $0.severity == .error ? 0 : $0.severity == .warning ? 1 : 2 }
        #expect(ranks == ranks.sorted())
    }
}
