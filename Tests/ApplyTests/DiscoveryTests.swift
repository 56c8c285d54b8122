import Apply
import Foundation
import TestSupport
import Testing

@Suite struct DiscoveryTests {
    static let versionOutput = """
        nginx version: nginx/1.22.1
        built with OpenSSL 3.0.11 19 Sep 2023
        TLS SNI support enabled
        configure arguments: --with-cc-opt='-g -O2' --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf --error-log-path=/var/log/nginx/error.log --pid-path=/run/nginx.pid --with-http_ssl_module
        """

    @Test func parsesConfigureArguments() {
        let defaults = NginxDiscovery.parseVersionOutput(Self.versionOutput)
        #expect(defaults.prefix == "/usr/share/nginx")
        #expect(defaults.confPath == "/etc/nginx/nginx.conf")
        #expect(defaults.pidPath == "/run/nginx.pid")
        #expect(defaults.errorLogPath == "/var/log/nginx/error.log")
    }

    @Test func parsesMasterCommandLines() {
        let nul = Array("/usr/sbin/nginx\0-p\0/srv/p\0-c\0conf/n.conf\0".utf8)
        #expect(NginxDiscovery.parseMasterCommandLine(nul) == ("/srv/p", "conf/n.conf"))
        let title = Array("nginx: master process /usr/sbin/nginx -c /etc/nginx/edge.conf\0".utf8)
        #expect(NginxDiscovery.parseMasterCommandLine(title) == (nil, "/etc/nginx/edge.conf"))
        let joined = Array("nginx\0-p/srv/q\0-c/srv/q/n.conf".utf8)
        #expect(NginxDiscovery.parseMasterCommandLine(joined) == ("/srv/q", "/srv/q/n.conf"))
    }

    @Test func prefersTheRunningMastersConfigOverBuildDefaults() throws {
        let dir = try TempDir()
        let pidFile = try dir.write("nginx.pid", "4242\n")
        try dir.write("proc/4242/cmdline", "nginx: master process /usr/sbin/nginx -p /srv/edge -c conf/edge.conf\0")
        let runner = ScriptedRunner([.init(["nginx", "-V"], stderr: Self.versionOutput)])
        let location = NginxDiscovery.discover(known: NginxLocation(pidFile: pidFile), runner: runner, procRoot: dir.file("proc"))
        runner.verifyAllRan()
        #expect(location.prefix == "/srv/edge")
        #expect(location.mainConfig == "/srv/edge/conf/edge.conf")
        #expect(location.errorLog == "/var/log/nginx/error.log")
        let control = NginxControl.standard(location)
        #expect(control.validateArgv == ["nginx", "-p", "/srv/edge", "-c", "/srv/edge/conf/edge.conf", "-t"])
        #expect(control.reloadArgv == ["nginx", "-p", "/srv/edge", "-c", "/srv/edge/conf/edge.conf", "-s", "reload"])
        #expect(control.verify == [.newWorkers(pidFile: pidFile), .errorLog(path: "/var/log/nginx/error.log")])
    }

    @Test func fallsBackToTheDefaultConfPathWhenNoMasterRuns() {
        let runner = ScriptedRunner([.init(["/opt/nginx/sbin/nginx", "-V"], stderr: Self.versionOutput)])
        let location = NginxDiscovery.discover(known: NginxLocation(binary: "/opt/nginx/sbin/nginx", pidFile: "/nonexistent/nginx.pid"),
                                               runner: runner)
        #expect(location.mainConfig == "/etc/nginx/nginx.conf")
        #expect(location.prefix == nil)
    }
}
