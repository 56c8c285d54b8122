import Foundation
import NginxConfig

/// One host's routing files as read for the drift check: each file's text keyed by its place relative to
/// the routing config's directory (so hosts with different config directories compare), or why they could
/// not be read.
public struct HostRouting: Sendable, Equatable {
    /// The host's name.
    public var host: String
    /// The routing config's path on the host.
    public var configPath: String
    /// File key (path relative to the config's directory, or absolute when outside it) → path on the host.
    public var paths: [String: String]
    /// File key → text.
    public var texts: [String: String]
    /// Why the files could not be read (host unreachable, file missing, syntax error), when they could not.
    public var error: String?

    /// Creates a host's routing from its read config.
    public init(host: String, configPath: String, config: ConfigSet) {
        self.host = host
        self.configPath = configPath
        let base = AtomicFiles.directory(of: configPath) + "/"
        var paths: [String: String] = [:], texts: [String: String] = [:]
        for (path, text) in config.originals {
            let key = path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
            paths[key] = path
            texts[key] = text
        }
        self.paths = paths
        self.texts = texts
        self.error = nil
    }

    /// A host whose routing could not be read.
    public init(host: String, configPath: String, error: String) {
        self.host = host
        self.configPath = configPath
        self.paths = [:]
        self.texts = [:]
        self.error = error
    }

    /// Reads `target`'s routing config and everything it includes.
    public static func read(_ target: NginxTarget) -> HostRouting {
        do {
            return HostRouting(host: target.name, configPath: target.configPath, config: try target.loadConfig())
        } catch {
            return HostRouting(host: target.name, configPath: target.configPath, error: "\(error)")
        }
    }

    /// SHA-256 (hex) of each file's text, by key.
    public var fileSHA256: [String: String] { texts.mapValues { SHA256.hex($0) } }

    /// SHA-256 (hex) over every file's key and text, in key order: equal exactly when the routing is.
    public var configSHA256: String? {
        guard error == nil else { return nil }
        return ApplyPipeline.configHash(texts.map { ($0.key, $0.value) })
    }
}

/// Whether every host of the fleet has the same routing: each host's hash, the majority's, and for a
/// host that differs, which files and a unified diff against the majority. A plain value other views read.
public struct DriftReport: Sendable, Equatable {
    /// One file a drifted host holds differently from the majority.
    public struct FileDrift: Sendable, Equatable {
        /// The file's path on the drifted host.
        public var path: String
        /// The unified diff from the majority's text to the host's (a missing file diffs against empty).
        public var diff: String

        public init(path: String, diff: String) {
            self.path = path
            self.diff = diff
        }
    }

    /// One host's state.
    public struct Host: Sendable, Equatable {
        /// The host's name.
        public var name: String
        /// SHA-256 over the host's routing files; nil when they could not be read.
        public var configSHA256: String?
        /// Whether the host's routing differs from the majority's (an unreadable host counts as drifted).
        public var drift: Bool
        /// The files that differ, with their diffs.
        public var files: [FileDrift]
        /// Why the host's routing could not be read, when it could not.
        public var error: String?

        public init(name: String, configSHA256: String?, drift: Bool, files: [FileDrift] = [], error: String? = nil) {
            self.name = name
            self.configSHA256 = configSHA256
            self.drift = drift
            self.files = files
            self.error = error
        }
    }

    /// Every host, in the order `hosts:` lists them.
    public var hosts: [Host]
    /// The hash most hosts share (ties: the one the earliest-listed host has); nil when none could be read.
    public var majoritySHA256: String?

    public init(hosts: [Host], majoritySHA256: String?) {
        self.hosts = hosts
        self.majoritySHA256 = majoritySHA256
    }

    /// The names of the hosts whose routing differs from the majority or could not be read.
    public var drifted: [String] { hosts.filter(\.drift).map(\.name) }
    /// The names of the hosts whose routing could not be read.
    public var unreachable: [String] { hosts.filter { $0.error != nil }.map(\.name) }
    /// Whether all hosts agree.
    public var agrees: Bool { drifted.isEmpty }

    /// The host named `name`.
    public func host(_ name: String) -> Host? { hosts.first { $0.name == name } }

    /// Compares the hosts' routing: the majority is the hash most hosts share; every other host is drifted,
    /// with a diff per differing file against the earliest-listed majority host.
    public static func compare(_ routings: [HostRouting]) -> DriftReport {
        var counts: [String: Int] = [:]
        for r in routings { if let h = r.configSHA256 { counts[h, default: 0] += 1 } }
        let best = counts.values.max() ?? 0
        let majority = routings.compactMap(\.configSHA256).first { counts[$0] == best }
        let reference = routings.first { $0.configSHA256 != nil && $0.configSHA256 == majority }
        var hosts: [Host] = []
        for r in routings {
            if let error = r.error {
                hosts.append(Host(name: r.host, configSHA256: nil, drift: true, error: error))
                continue
            }
            guard let reference, r.configSHA256 != majority else {
                hosts.append(Host(name: r.host, configSHA256: r.configSHA256, drift: false))
                continue
            }
            var files: [FileDrift] = []
            for key in Set(r.texts.keys).union(reference.texts.keys).sorted() {
                let mine = r.texts[key], theirs = reference.texts[key]
                guard mine != theirs else { continue }
                let path = r.paths[key] ?? key
                let refPath = reference.paths[key] ?? key
                files.append(FileDrift(path: path, diff: unifiedDiff(old: theirs ?? "", new: mine ?? "",
                                                                    oldName: "\(reference.host):\(refPath)",
                                                                    newName: "\(r.host):\(path)")))
            }
            hosts.append(Host(name: r.host, configSHA256: r.configSHA256, drift: true, files: files))
        }
        return DriftReport(hosts: hosts, majoritySHA256: majority)
    }

    /// Reads every target's routing and compares them.
    public static func read(_ targets: [NginxTarget]) -> DriftReport {
        compare(targets.concurrentMap(HostRouting.read))
    }

    /// The drift in words: one line per drifted host naming it and its files (with the diffs when `diffs`).
    public func describe(diffs: Bool = false) -> String {
        var lines: [String] = []
        for host in hosts where host.drift {
            if let error = host.error {
                lines.append("\(host.name): routing unreadable: \(error)")
                continue
            }
            lines.append("\(host.name): routing differs from the majority in " + host.files.map(\.path).joined(separator: ", "))
            if diffs { for file in host.files { lines.append(file.diff.hasSuffix("\n") ? String(file.diff.dropLast()) : file.diff) } }
        }
        return lines.joined(separator: "\n")
    }
}
