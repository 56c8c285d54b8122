import Foundation
import NginxConfig
import Testing
import TestSupport
@testable import Rollout

/// A routing file in the pattern with the given groups and map lines (both maps get the same keys).
func patternConfig(groups: String = """
    split_clients "${request_id}" $group1_routing {
        10% "new_service";
        * "current_service";
    }
    """, endpoints: [(key: String, target: String, group: String)] = [("/v2/a", "/new/a", "$group1_routing")],
                   extraHTTP: String = "", whitelistExtra: String = "", groupMapExtra: String = "") -> String {
    let whitelist = endpoints.map { "    \($0.key) \"\($0.target)\";" }.joined(separator: "\n")
    let assignments = endpoints.map { "    \($0.key) \"\($0.group)\";" }.joined(separator: "\n")
    return """
    map $uri $target_path {
    \(whitelist)
    \(whitelistExtra)}

    map $target_path $is_migratable {
        "" 0;
        default 1;
    }

    \(groups)

    map $uri $split_group {
    \(assignments)
    \(groupMapExtra)}

    map $is_migratable $api_routing {
        0 "current_service";
        1 $split_group;
    }
    \(extraHTTP)
    """
}

func editorFor(_ text: String, path: String = "/tmp/semantics.conf") throws -> RolloutEditor {
    RolloutEditor(config: try ConfigSet.fromTexts([(path, text)]))
}

extension RolloutEditor {
    /// Applies `edit` and returns an editor on the result.
    func then(_ edit: RolloutEdit) throws -> (RolloutEditor, EditResult) {
        let r = try apply(edit)
        return (RolloutEditor(config: r.config, model: r.model), r)
    }
}

func problems(_ model: RolloutModel, _ kind: ProblemKind) -> [Problem] { model.problems.filter { $0.kind == kind } }

@Suite struct SplitSemanticsTests {
    @Test func theRemainderYieldingTheNewServiceCountsAndRollbackSendsItBack() throws {
        // `rollback --all` reported "applied" and left about 90% on the new service.
        let text = patternConfig(groups: """
            split_clients "${request_id}" $group1_routing {
                10% "current_service";
                * "new_service";
            }
            """)
        let editor = try editorFor(text)
        #expect(editor.model.groups[0].percent.plain == "90")
        #expect(editor.model.endpoints[0].percent.plain == "90")
        let (back, r) = try editor.then(.rollbackAll)
        #expect(back.model.groups[0].percent == .zero)
        #expect(back.model.endpoints[0].percent == .zero)
        #expect(r.shifts.map(\.percentAfter) == [.zero])
        let (resumed, r2) = try back.then(.resume)
        #expect(resumed.model.groups[0].percent.plain == "90")
        #expect(r2.config.text(of: "/tmp/semantics.conf") == text)
    }

    @Test func twoNewServiceBucketsAreSummedAndSettingAPercentYieldsExactlyIt() throws {
        // `group --percent 50` produced 60% and `rollback --all` left 10%.
        let text = patternConfig(groups: """
            split_clients "${request_id}" $group1_routing {
                # ramp
                10% "new_service";
                10% "new_service";   # second bucket
                * "current_service";
            }
            """)
        let editor = try editorFor(text)
        #expect(editor.model.groups[0].percent.plain == "20")
        let (set, r) = try editor.then(.setGroupPercent(group: "group1_routing", percent: Percent(hundredths: 5000), create: false))
        #expect(set.model.groups[0].percent.plain == "50")
        let after = try #require(r.config.text(of: "/tmp/semantics.conf"))
        #expect(after.contains("    # ramp\n    50% \"new_service\";\n    # second bucket\n    * \"current_service\";\n}"), "\(after)")
        let (back, _) = try editor.then(.rollbackAll)
        #expect(back.model.groups[0].percent == .zero)
        let (resumed, r3) = try back.then(.resume)
        #expect(resumed.model.groups[0].percent.plain == "20")
        #expect(r3.config.text(of: "/tmp/semantics.conf") == text)
    }

    @Test func entriesAfterTheFirstStarNeverMatchAndASecondStarIsAccepted() throws {
        let twice = try editorFor(patternConfig(groups: """
            split_clients "${request_id}" $group1_routing { 30% "new_service"; * "current_service"; * "new_service"; }
            """))
        #expect(twice.model.groups[0].percent.plain == "30")
        #expect(problems(twice.model, .splitDeadEntry).count == 1)
        #expect(!twice.model.problems.contains { $0.kind.rejectedByNginx })
        let middle = try editorFor(patternConfig(groups: """
            split_clients "${request_id}" $group1_routing { 30% "new_service"; * "current_service"; 5% "new_service"; }
            """))
        #expect(middle.model.problems.contains { $0.kind == .splitStarNotLast && $0.kind.rejectedByNginx })
    }

    @Test func aRedefinedSplitVariableUsesTheLastBlockAndWarnsNamingBoth() throws {
        // Cutover showed and edited the first ("applied 5% → 1%") while 100% went to the new service.
        let text = patternConfig(groups: """
            split_clients "${request_id}" $group1_routing {
                5% "new_service";
                * "current_service";
            }
            split_clients "${request_id}" $group1_routing {
                100% "new_service";
            }
            """)
        let editor = try editorFor(text)
        #expect(editor.model.groups.count == 1)
        #expect(editor.model.groups[0].percent.plain == "100")
        #expect(editor.model.endpoints[0].percent.plain == "100")
        let warning = try #require(problems(editor.model, .variableRedefined).first)
        #expect(warning.severity == .warning && warning.location.line == 10 && warning.message.contains(":14"), "\(warning)")
        let (after, r) = try editor.then(.setGroupPercent(group: "group1_routing", percent: Percent(hundredths: 100), create: false))
        #expect(after.model.endpoints[0].percent.plain == "1")
        let text2 = try #require(r.config.text(of: "/tmp/semantics.conf"))
        #expect(text2.contains("    5% \"new_service\";"))  // the dead first block is untouched
    }

    @Test func aStreamSplitClientsIsNoHTTPGroup() throws {
        let text = patternConfig() + "\nstream {\n    split_clients \"$remote_addr\" $group1_routing { 50% \"new_service\"; * \"current_service\"; }\n}\n"
        let editor = try editorFor(text)
        #expect(editor.model.groups.count == 1)
        #expect(editor.model.groups[0].percent.plain == "10")
        #expect(problems(editor.model, .variableRedefined).isEmpty)
    }

    @Test func percentDotIsNoPercent() {
        #expect(Percent(parsing: ".") == nil)
        #expect(Percent(parsing: "%") == nil)
        #expect(Percent(parsing: ".5")?.hundredths == 50)
        #expect(Percent(parsing: "10.")?.hundredths == 1000)
    }
}

@Suite struct MapSemanticsTests {
    @Test(arguments: ["default", "include", "hostnames", "volatile"])
    func mapParametersAreNeverEndpointKeys(key: String) throws {
        // `add default …` made every unlisted URI migratable while the summary said nothing changes.
        let editor = try editorFor(patternConfig())
        #expect(throws: EditError.self) { try editor.apply(.add(key: key, target: "/new/x", group: "group1_routing")) }
    }

    @Test func exactKeysCompareCaseInsensitively() throws {
        let (added, _) = try editorFor(patternConfig()).then(.add(key: "/v2/ping", target: "/new/ping", group: "group1_routing"))
        #expect(throws: EditError.self) { try added.apply(.add(key: "/v2/PING", target: "/new/ping", group: "group1_routing")) }
        let conflicting = try editorFor(patternConfig(whitelistExtra: "    /V2/A \"/new/a2\";\n"))
        let dup = try #require(problems(conflicting.model, .duplicateKey).first)
        #expect(dup.severity == .error && dup.kind.rejectedByNginx)
        // The endpoint resolves by its key in any case.
        #expect(try added.model.resolveEndpoint("/V2/PING").pattern == "/v2/ping")
    }

    @Test(arguments: [#"~^/v2/a**$"#, #"~^/v2/a{3,1}$"#, #"~^/v2/(?<x>a)(?<x>b)$"#])
    func regexKeysPCRE2RejectsAreRefused(key: String) throws {
        let editor = try editorFor(patternConfig())
        #expect(throws: EditError.self) { try editor.apply(.add(key: key, target: "/new/x", group: "group1_routing")) }
        let inConfig = try editorFor(patternConfig(endpoints: [("\"" + key + "\"", "/new/x", "$group1_routing")]))
        #expect(inConfig.model.problems.contains { $0.kind == .regexInvalid && $0.severity == .error })
    }

    @Test(arguments: ["/v3/$nosuchvar", "/v3/${x", "/v3/$", "/v3/$2"])
    func targetsNamingMissingVariablesAreRefused(target: String) throws {
        let editor = try editorFor(patternConfig())
        #expect(throws: EditError.self) { try editor.apply(.add(key: "~^/v3/(\\d+)$", target: target, group: "group1_routing")) }
    }

    @Test(arguments: ["/v3/$1", "/v3/$arg_id", "/v3/${http_x_user}", "/v3/$id", "/v3/$target_path"])
    func targetsNamingExistingVariablesAreAccepted(target: String) throws {
        let editor = try editorFor(patternConfig())
        let r = try editor.apply(.add(key: "~^/v3/(?<id>\\d+)$", target: target, group: "group1_routing"))
        #expect(!r.model.problems.contains { $0.severity == .error }, "\(r.model.problems)")
    }

    @Test func unknownVariablesInTheConfigAreErrors() throws {
        let editor = try editorFor(patternConfig(endpoints: [("/v2/a", "/new/$nosuchvar", "$group1_routing")]))
        #expect(problems(editor.model, .variableUnknown).count == 1)
    }

    @Test func aSecondTargetPathMapAndARepeatedRegexKeyAreNoErrors() throws {
        // Both were reported as "nginx rejects it"; nginx accepts both (the last map wins, the first regex matches).
        let second = try editorFor(patternConfig(extraHTTP: "map $uri $target_path {\n    /v2/b \"/new/b\";\n}\n"))
        #expect(!second.model.problems.contains { $0.kind.rejectedByNginx }, "\(second.model.problems)")
        #expect(second.model.whitelistMap?.entries.map(\.key) == ["/v2/b"])
        #expect(problems(second.model, .variableRedefined).count == 1)
        let repeated = try editorFor(patternConfig(endpoints: [("~^/v2/a$", "/new/a", "$group1_routing")],
                                                   whitelistExtra: "    ~^/v2/a$ \"/new/other\";\n"))
        #expect(!repeated.model.problems.contains { $0.severity == .error }, "\(repeated.model.problems)")
        #expect(problems(repeated.model, .repeatedRegexKey).count == 1)
        #expect(repeated.model.endpoints[0].target == "/new/a")
    }

    @Test func splitClientsErrorsNginxRaises() throws {
        let unknownKey = try editorFor(patternConfig(groups: "split_clients \"${no_such_var}\" $group1_routing { 10% \"new_service\"; * \"current_service\"; }"))
        #expect(problems(unknownKey.model, .variableUnknown).count == 1)
        let builtin = try editorFor(patternConfig(groups: "split_clients \"${request_id}\" $group1_routing { 10% \"new_service\"; * \"current_service\"; }\nsplit_clients \"${request_id}\" $host { 10% a; * b; }"))
        #expect(problems(builtin.model, .variableDuplicate).count == 1)
        let noDollar = try editorFor(patternConfig(groups: "split_clients \"${request_id}\" group1_routing { 10% \"new_service\"; * \"current_service\"; }"))
        #expect(problems(noDollar.model, .variableInvalid).count == 1)
    }

    @Test(arguments: ["target_path", "uri", "host", "grpé", "split_group", "arg_x", "group 1"])
    func groupNamesFollowNginxRulesAndNeverShadowAVariable(name: String) throws {
        // `group target_path --create` overrode the whitelist map (502s); `uri`/`host` made nginx fail;
        // `grpé` was written and every assignment then failed with `unknown "grp" variable`.
        let editor = try editorFor(patternConfig())
        #expect(throws: EditError.self) { try editor.apply(.setGroupPercent(group: name, percent: Percent(hundredths: 5000), create: true)) }
    }

    @Test func entriesOfAFileIncludedInsideAMapAreFoundAndEditsLandThere() throws {
        let dir = try TempDir()
        try dir.write("targets.conf", "/v2/a \"/new/a\";\n/v2/b \"/new/b\";\n")
        let main = try dir.write("routing.conf", patternConfig(endpoints: [("/v2/a", "/new/a", "$group1_routing")])
            .replacingOccurrences(of: "    /v2/a \"/new/a\";\n", with: "    include targets.conf;\n"))
        let config = try ConfigSet.load(path: main)
        let editor = RolloutEditor(config: config)
        #expect(editor.model.whitelistMap?.entries.map(\.key) == ["/v2/a", "/v2/b"])
        #expect(editor.model.endpoints.first?.target == "/new/a")
        let r = try editor.apply(.add(key: "/v2/c", target: "/new/c", group: "group1_routing"))
        let targets = try #require(r.changes.first { $0.path.hasSuffix("targets.conf") })
        #expect(targets.after == "/v2/a \"/new/a\";\n/v2/b \"/new/b\";\n/v2/c \"/new/c\";\n")
        #expect(r.changes.first { $0.path.hasSuffix("routing.conf") }?.after.contains("/v2/c \"$group1_routing\";") == true)
    }

    @Test func aGroupCreatedInACRLFFileGetsCRLFLines() throws {
        let crlf = patternConfig().replacingOccurrences(of: "\n", with: "\r\n")
        let r = try editorFor(crlf).apply(.setGroupPercent(group: "group9_routing", percent: Percent(hundredths: 500), create: true))
        #expect(!r.changes[0].after.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(r.model.group(named: "group9_routing")?.percent.plain == "5")
    }

    @Test func endpointIDsCompareAsNginxComparesKeys() {
        #expect(EndpointID(raw: "/v2/Ping") == EndpointID(raw: "/v2/ping"))
        #expect(EndpointID(raw: "~^/v2/Ping$") != EndpointID(raw: "~^/v2/ping$"))
        #expect(MapKey(raw: "\\default").key == "default" && !MapKey(raw: "\\default").isSpecialParameter)
        #expect(MapKey(raw: "default").isSpecialParameter)
    }
}

@Suite struct PrefixTests {
    @Test func relativeLogPathsResolveAgainstNginxsPrefixNotTheWorkingDirectory() throws {
        // `check` reported logs missing that exist: `access_log logs/migration.log` was read from the cwd.
        let text = patternConfig(extraHTTP: """
            server {
                listen 80;
                access_log logs/main.log;
                location ~ ^/v2/ {
                    if ($api_routing = "new_service") { rewrite ^ /internal_new last; }
                }
                location = /internal_new { internal; access_log logs/migration.log; }
            }
            """)
        var set = try ConfigSet.fromTexts([("/tmp/semantics.conf", text)])
        #expect(Discovery.discover(set).migrationLog?.path == "logs/migration.log")
        set.nginxPrefix = "/usr/share/nginx"
        let model = Discovery.discover(set)
        #expect(model.migrationLog?.path == "/usr/share/nginx/logs/migration.log")
        #expect(model.mainLog?.path == "/usr/share/nginx/logs/main.log")
    }
}
