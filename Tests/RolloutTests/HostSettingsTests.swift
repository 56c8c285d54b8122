import Testing
@testable import Settings

@Suite struct HostSettingsTests {
    @Test func hostsListParsesEveryKey() throws {
        let yaml = """
        config: /etc/nginx/conf.d/migration.conf
        logs:
          syslog: 0.0.0.0:5514
          main: /var/log/edge/{host}/access.log
        hosts:
          - name: edge1
            run: [ssh, -o, BatchMode=yes, deploy@edge1]
          - name: edge2
            run: [kubectl, exec, -n, edge, pod/nginx-0, --]
            config: /etc/nginx/sites-enabled/api
            main_config: /etc/nginx/nginx.conf
            syslog_name: ip-10-0-0-2
            nginx:
              binary: /usr/local/sbin/nginx
              reload: [systemctl, reload, nginx]
          - name: local
            run: []
        """
        let s = try Settings.parse(yaml, file: "cutover.yaml")
        #expect(s.syslog == "0.0.0.0:5514")
        #expect(s.mainLogs == ["/var/log/edge/{host}/access.log"])
        #expect(s.hosts.map(\.name) == ["edge1", "edge2", "local"])
        #expect(s.hosts[0].run == ["ssh", "-o", "BatchMode=yes", "deploy@edge1"])
        #expect(s.hosts[0].config == nil && !s.hosts[0].isLocal)
        #expect(s.hosts[1].config == "/etc/nginx/sites-enabled/api")
        #expect(s.hosts[1].mainConfig == "/etc/nginx/nginx.conf")
        #expect(s.hosts[1].syslogName == "ip-10-0-0-2")
        #expect(s.hosts[1].nginx == HostNginxSettings(binary: "/usr/local/sbin/nginx", reload: ["systemctl", "reload", "nginx"]))
        #expect(s.hosts[2].isLocal)
        #expect(s.hasFleet && s.effectiveHosts.count == 3)
    }

    @Test func withoutHostsThereIsOneLocalHost() throws {
        let s = try Settings.parse("config: /etc/nginx/nginx.conf\n", file: "cutover.yaml")
        #expect(!s.hasFleet)
        #expect(s.effectiveHosts.count == 1 && s.effectiveHosts[0].isLocal)
    }

    @Test(arguments: [
        ("hosts: edge1\n", 1, "must be a list"),
        ("hosts:\n  - run: []\n", 2, "has no name"),
        ("hosts:\n  - name: a\n  - name: a\n", 3, "listed twice (first at line 2)"),
        ("hosts:\n  - name: a\n    run: ssh edge1\n", 3, "argv list"),
        ("hosts:\n  - name: a b\n", 2, "ASCII letters"),
        ("hosts:\n  - name: a\n    config: sites/api\n", 3, "absolute path"),
        ("hosts:\n  - name: a\n    colour: red\n", 3, "unknown key hosts[].colour"),
        ("hosts:\n  - name: a\n    nginx: {restart: [x]}\n", 3, "unknown key hosts[].nginx.restart"),
        ("logs:\n  syslog: localhost\n", 2, "ADDR:PORT"),
    ])
    func badHostsAreErrorsAtTheirLine(yaml: String, line: Int, says: String) {
        do {
            _ = try Settings.parse(yaml, file: "cutover.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(says), "\(error)")
        }
    }
}
