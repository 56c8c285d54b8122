import Foundation

/// Checks that a reload took effect, per the configured `VerifyCheck`s: a snapshot taken before the
/// reload, then polling until every check passes or the timeout ends.
struct ReloadVerifier {
    let checks: [VerifyCheck]
    let runner: CommandRunner
    let clock: ApplyClock
    let timeout: Duration
    let errorLogSettle: Duration
    let procRoot: String
    /// Reads the process and log facts on a remote host; nil reads this machine's /proc and files.
    var probe: HostProbe? = nil
    /// How `.command` checks reach the host.
    var transport: HostTransport = .local

    private func readPid(_ pidFile: String) -> Int32? { probe.map { $0.readPid(pidFile) } ?? ProcessTable.readPid(pidFile) }
    private func isAlive(_ pid: Int32) -> Bool { probe.map { $0.isAlive(pid) } ?? ProcessTable.isAlive(pid, procRoot: procRoot) }
    private func children(of pid: Int32) -> Set<Int32> {
        probe.map { $0.children(of: pid) } ?? ProcessTable.children(of: pid, procRoot: procRoot)
    }

    /// The state before the reload that the checks compare against.
    struct Snapshot {
        var masters: [String: (pid: Int32, children: Set<Int32>)] = [:]
        var logOffsets: [String: UInt64] = [:]
    }

    /// Records each master's children and each error log's size.
    func snapshot() -> Snapshot {
        var snap = Snapshot()
        for check in checks {
            switch check {
            case .newWorkers(let pidFile):
                if let pid = readPid(pidFile) {
                    snap.masters[pidFile] = (pid, children(of: pid))
                }
            case .errorLog(let path):
                snap.logOffsets[path] = fileSize(path)
            case .command:
                break
            }
        }
        return snap
    }

    /// Polls the checks until all pass (returns nil) or one fails or time runs out (returns why).
    func verify(since snap: Snapshot) -> String? {
        if checks.isEmpty { return nil }
        let start = clock.monotonic()
        let deadline = start + timeout
        var passed = Set<Int>()
        let positives = checks.indices.filter { if case .errorLog = checks[$0] { return false } else { return true } }
        var lastCommandMessage: [Int: String] = [:]
        while true {
            for (index, check) in checks.enumerated() {
                switch check {
                case .errorLog(let path):
                    let lines = newAlarmLines(path: path, from: snap.logOffsets[path] ?? 0)
                    if !lines.isEmpty {
                        return "nginx logged in \(path) after the reload:\n" + lines.joined(separator: "\n")
                    }
                case .newWorkers(let pidFile):
                    guard !passed.contains(index) else { continue }
                    if let pid = readPid(pidFile), isAlive(pid) {
                        let before = snap.masters[pidFile]
                        let old = before?.pid == pid ? (before?.children ?? []) : []
                        if !children(of: pid).subtracting(old).isEmpty {
                            passed.insert(index)
                        }
                    } else if clock.monotonic() >= deadline {
                        return "the nginx master (pid file \(pidFile)) is not running after the reload"
                    }
                case .command(let argv):
                    guard !passed.contains(index) else { continue }
                    let remaining = max(deadline - clock.monotonic(), .milliseconds(100))
                    do {
                        let result = try runner.run(transport.argv(argv), timeout: remaining)
                        if result.succeeded { passed.insert(index) } else {
                            lastCommandMessage[index] = result.summary + (result.message.isEmpty ? "" : ": " + result.message)
                        }
                    } catch {
                        return "verify command failed to start: \(error)"
                    }
                }
            }
            let now = clock.monotonic()
            let allPositive = positives.allSatisfy { passed.contains($0) }
            if allPositive && (!positives.isEmpty || now - start >= errorLogSettle) { return nil }
            if now >= deadline {
                var reasons: [String] = []
                for index in positives where !passed.contains(index) {
                    switch checks[index] {
                    case .newWorkers(let pidFile):
                        reasons.append("the nginx master (pid file \(pidFile)) started no new workers within \(timeout.milliseconds) ms")
                    case .command(let argv):
                        reasons.append(lastCommandMessage[index] ?? "`\(argv.joined(separator: " "))` did not succeed in time")
                    case .errorLog:
                        break
                    }
                }
                return reasons.joined(separator: "; ")
            }
            clock.sleep(.milliseconds(positives.contains { if case .command = checks[$0] { return true } else { return false } } ? 50 : 5))
        }
    }

    /// What nginx said about a failed command: its own output, plus the `[emerg]`/`[alert]` lines it wrote
    /// to the checked error logs since `snap` that the output does not already show (nginx -t writes its
    /// complaint only to the log in some setups).
    func nginxMessage(_ output: String, since snap: Snapshot) -> String {
        var parts = output.isEmpty ? [] : [output]
        for case .errorLog(let path) in checks {
            let lines = newAlarmLines(path: path, from: snap.logOffsets[path] ?? 0).filter { line in
                // "2026/11/28 01:00:00 [emerg] 12#12: text": compare only the text.
                let searchStart = line.range(of: "#")?.upperBound ?? line.startIndex
                guard let colon = line.range(of: ": ", range: searchStart..<line.endIndex) else { return true }
                return !output.contains(line[colon.upperBound...])
            }
            if !lines.isEmpty { parts.append("nginx logged in \(path):\n" + lines.joined(separator: "\n")) }
        }
        return parts.joined(separator: "\n")
    }

    private func fileSize(_ path: String) -> UInt64 {
        if let probe { return probe.fileSize(path) }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
    }

    /// The `[emerg]` and `[alert]` lines written to `path` after `offset`.
    private func newAlarmLines(path: String, from offset: UInt64) -> [String] {
        if let probe {
            let size = fileSize(path)
            return probe.text(of: path, from: size < offset ? 0 : offset).split(separator: "\n")
                .filter { $0.contains("[emerg]") || $0.contains("[alert]") }
                .map(String.init)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let size = fileSize(path)
        // A rotated (smaller) log is read from its start.
        let start = size < offset ? 0 : offset
        do {
            try handle.seek(toOffset: start)
            let data = try handle.readToEnd() ?? Data()
            return String(decoding: data, as: UTF8.self).split(separator: "\n")
                .filter { $0.contains("[emerg]") || $0.contains("[alert]") }
                .map(String.init)
        } catch {
            return []
        }
    }
}
