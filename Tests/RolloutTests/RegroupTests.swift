import NginxConfig
@testable import Rollout
import Testing
import TestSupport

/// Setting one group's percent reads that group alone again; the model must equal the whole discovery.
@Suite struct RegroupTests {
    static let twoBuckets = threeEndpointRouting.replacingOccurrences(of: "    10% \"new_service\";\n", with: "    10% \"new_service\";\n    5% \"new_service\";\n")

    @Test(arguments: [0, 1, 33, 50, 100, 9999])
    func aGroupPercentEditGivesTheModelTheWholeDiscoveryGives(hundredths: Int) throws {
        for text in [threeEndpointRouting, Self.twoBuckets] {
            let config = try ConfigSet.fromTexts([("/etc/nginx/routing.conf", text)])
            let editor = RolloutEditor(config: config, model: Discovery.discover(config))
            for group in editor.model.groups {
                let result = try editor.apply(.setGroupPercent(group: group.name, percent: Percent(hundredths: hundredths * 1), create: false))
                #expect(result.model == Discovery.discover(result.config), "\(group.name) at \(hundredths)")
                let regrouped = Discovery.regroup(editor.model, before: config, after: result.config, variable: group.variable, names: RolloutNames())
                // When the shortcut is taken, it is exact; it is refused when the block gained or lost a line.
                if let regrouped { #expect(regrouped == Discovery.discover(result.config)) }
                let lines = { (c: ConfigSet) in c.text(of: "/etc/nginx/routing.conf")?.split(separator: "\n", omittingEmptySubsequences: false).count }
                if lines(config) == lines(result.config), result.config.text(of: "/etc/nginx/routing.conf") != text {
                    #expect(regrouped != nil, "a retune on the same lines takes the shortcut (\(group.name) at \(hundredths))")
                }
            }
        }
    }
}
