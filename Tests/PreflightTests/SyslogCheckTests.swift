import Foundation
import NginxConfig
@testable import Preflight
import Rollout
import TestSupport
import Testing

@Suite struct SyslogCheckTests {
    @Test func recommendsTheExactDirectivesWhenLogsSyslogIsSetAndTheConfigLacksThem() throws {
        var inputs = Fixture.inputs
        inputs.syslog = "0.0.0.0:5514"
        let findings = try Fixture.check(try Fixture.recommended, probe: try Fixture.healthy(), inputs: inputs)
        let hits = findings.with("syslog-not-shipped")
        #expect(hits.count == 2, "\(findings.dump)")
        #expect(hits.contains { $0.fix?.contains("access_log syslog:server=127.0.0.1:5514,tag=cutover_main timed;") == true }, "\(hits)")
        #expect(hits.contains { $0.fix?.contains("access_log syslog:server=127.0.0.1:5514,tag=cutover_migration timed;") == true }, "\(hits)")
        #expect(hits.allSatisfy { $0.severity == .warning })
        // Without logs.syslog nothing is said.
        #expect(try Fixture.check(try Fixture.recommended, probe: try Fixture.healthy()).with("syslog-not-shipped").isEmpty)
    }

    @Test func theDirectivesInPlaceSatisfyTheCheck() throws {
        var config = try Fixture.recommended
        config = config.replacingOccurrences(of: "access_log \(Fixture.mainLog) timed;",
                                             with: "access_log \(Fixture.mainLog) timed;\n    access_log syslog:server=10.0.0.9:5514,tag=cutover_main timed;")
        config = config.replacingOccurrences(of: "access_log \(Fixture.migrationLog) timed;",
                                             with: "access_log \(Fixture.migrationLog) timed;\n        access_log syslog:server=10.0.0.9:5514,tag=cutover_migration timed;")
        var inputs = Fixture.inputs
        inputs.syslog = "0.0.0.0:5514"
        let findings = try Fixture.check(config, probe: try Fixture.healthy(), inputs: inputs)
        #expect(findings.with("syslog-not-shipped").isEmpty, "\(findings.dump)")
        // A destination on another port does not reach the listener.
        inputs.syslog = "0.0.0.0:6000"
        #expect(try Fixture.check(config, probe: try Fixture.healthy(), inputs: inputs).with("syslog-not-shipped").count == 2)
    }
}
