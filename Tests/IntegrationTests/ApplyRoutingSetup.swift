import Apply
import Foundation
import NginxConfig
import TestSupport
import Testing

/// The routing state the tests write: each group's new-service percent and a generation number that the
/// front server returns in an `X-Gen` header, so each response says which config served it.
struct RoutingState: Equatable {
    var generation: Int
    var group1: Int
    var group2: Int

    /// The routing file in the split_clients pattern (0% is written as a group with only `*`, as nginx requires).
    func text(frontPort: Int, newPort: Int, currentPort: Int) -> String {
        func group(_ name: String, _ percent: Int) -> String {
            let newLine = percent > 0 ? "    \(percent)% \"new_service\";\n" : ""
            return "split_clients \"${request_id}\" $\(name)_routing {\n\(newLine)    * \"current_service\";\n}\n"
        }
        return """
            # generation \(generation)
            \(group("group1", group1))\(group("group2", group2))
            map $uri $split_group {
                ~^/v2/a "$group1_routing";
                ~^/v2/b "$group2_routing";
                default "current_service";
            }

            map $split_group $backend_port {
                new_service \(newPort);
                default \(currentPort);
            }

            server {
                listen 127.0.0.1:\(frontPort);
                location /v2/ {
                    add_header X-Gen "\(generation)" always;
                    proxy_pass http://127.0.0.1:$backend_port;
                }
            }

            """
    }

    /// Reads the state back from a routing file's text.
    init?(parsing text: String) {
        var generation: Int?
        var percents: [String: Int] = ["group1": 0, "group2": 0]
        var currentGroup: String?
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("# generation ") { generation = Int(trimmed.dropFirst("# generation ".count)) }
            if trimmed.hasPrefix("split_clients") {
                currentGroup = trimmed.contains("$group1_routing") ? "group1" : "group2"
            } else if let group = currentGroup, trimmed.hasSuffix("% \"new_service\";"),
                      let percent = Int(trimmed.prefix { $0.isNumber }) {
                percents[group] = percent
            } else if trimmed == "}" {
                currentGroup = nil
            }
        }
        guard let generation, let g1 = percents["group1"], let g2 = percents["group2"] else { return nil }
        self.init(generation: generation, group1: g1, group2: g2)
    }

    init(generation: Int, group1: Int, group2: Int) {
        self.generation = generation
        self.group1 = group1
        self.group2 = group2
    }
}

/// A running nginx with two backends and a routing file in `conf.d/`, plus a pipeline aimed at it.
final class ApplyRoutingSetup: @unchecked Sendable {
    let nginx: NginxHarness
    let frontPort: Int
    let newPort: Int
    let currentPort: Int
    let routingPath: String

    init(initial: RoutingState) throws {
        nginx = try NginxHarness()
        let ports = try FreePort.allocate(3)
        frontPort = ports[0]
        newPort = ports[1]
        currentPort = ports[2]
        try nginx.write("nginx.conf", nginx.standardMainConfig(extraHTTP: """
            server { listen 127.0.0.1:\(newPort); location / { return 200 "new"; } }
                server { listen 127.0.0.1:\(currentPort); location / { return 200 "current"; } }
            """))
        routingPath = try nginx.write("conf.d/routing.conf",
                                      initial.text(frontPort: ports[0], newPort: ports[1], currentPort: ports[2]))
        do {
            try nginx.start(waitingFor: [frontPort, newPort, currentPort])
        } catch {
            nginx.stop()
            throw error
        }
    }

    func text(_ state: RoutingState) -> String {
        state.text(frontPort: frontPort, newPort: newPort, currentPort: currentPort)
    }

    func currentText() throws -> String {
        try String(contentsOfFile: routingPath, encoding: .utf8)
    }

    /// A pipeline on this nginx with the default commands (or `reloadArgv`), journaling into the prefix.
    func pipeline(reloadArgv: [String]? = nil, lockWait: Duration = .seconds(10)) -> ApplyPipeline {
        var control = NginxControl.standard(nginx.location)
        if let reloadArgv { control.reloadArgv = reloadArgv }
        let configuration = ApplyConfiguration(nginx: control, mainConfig: nginx.mainConfig, lockWait: lockWait,
                                               journal: Journal(path: nginx.directory.file("journal.jsonl")))
        return ApplyPipeline(configuration: configuration)
    }

    /// The change from the file's current text to `state`.
    func change(to state: RoutingState) throws -> FileChange {
        FileChange(path: routingPath, before: try currentText(), after: text(state))
    }

    static func description(_ from: RoutingState, _ to: RoutingState) -> ChangeDescription {
        ChangeDescription(action: "set-percent", endpoints: ["/v2/a", "/v2/b"], groups: ["group1", "group2"],
                          percentsBefore: ["group1": Double(from.group1), "group2": Double(from.group2)],
                          percentsAfter: ["group1": Double(to.group1), "group2": Double(to.group2)], reason: "integration test")
    }

    /// Sends requests to `path` until `count` responses come from `generation` (at most `maxRequests`),
    /// returning the fraction that reached the new service.
    func sample(_ client: HTTPTestClient, path: String, generation: Int, count: Int, maxRequests: Int = 5000) throws
        -> (newFraction: Double, matched: Int) {
        var matched = 0, new = 0
        for _ in 0..<maxRequests where matched < count {
            let response = try client.get(path)
            #expect(response.status == 200, "status \(response.status) from \(path)")
            guard response.headers["x-gen"] == "\(generation)" else { continue }
            matched += 1
            if response.body == "new" { new += 1 }
        }
        return (matched == 0 ? 0 : Double(new) / Double(matched), matched)
    }
}

/// Steady background traffic on one keep-alive connection, counting successes, failures and retries
/// (bounded in requests and time).
final class TrafficLoop: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var okCount = 0
    private var failures: [String] = []
    private var retryCount = 0
    private let done = DispatchSemaphore(value: 0)

    init(port: Int, path: String, maxRequests: Int = 200_000, maxTime: Duration = .seconds(60)) {
        let thread = Thread { [self] in
            let client = HTTPTestClient(port: port)
            let deadline = ContinuousClock.now + maxTime
            for _ in 0..<maxRequests {
                if lock.withLock({ stopped }) || ContinuousClock.now > deadline { break }
                do {
                    let response = try client.get(path)
                    lock.withLock {
                        if response.status == 200 { okCount += 1 } else { failures.append("status \(response.status)") }
                    }
                } catch {
                    lock.withLock { failures.append("\(error)") }
                }
            }
            lock.withLock { retryCount = client.retries }
            done.signal()
        }
        thread.start()
    }

    /// Stops the loop and returns its counts.
    func stop() -> (ok: Int, failures: [String], retries: Int) {
        lock.withLock { stopped = true }
        _ = done.wait(timeout: .now() + 10)
        return lock.withLock { (okCount, failures, retryCount) }
    }
}
