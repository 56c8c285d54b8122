import Apply
import ArgumentParser
import Foundation
import Rollout

/// `cutover routes`: the groups and endpoints the config defines, and the problems found in it.
struct RoutesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routes", abstract: "List groups, endpoints and problems of the routing config.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Print the stable JSON document (see README).") var json = false

    func run() throws {
        try runReportingErrors {
            let context = try Context.load(global)
            if json {
                var document = RoutesReport.json(context.model, configPath: context.configPath)
                if let drift = context.drift, case .object(var fields) = document {
                    fields.append(("hosts", RoutesReport.hosts(drift)))
                    document = .object(fields)
                }
                print(document.serialized())
            } else {
                print(RoutesReport.text(context.model, configPath: context.configPath), terminator: "")
                if let drift = context.drift { print(RoutesReport.hostsText(drift), terminator: "") }
            }
        }
    }
}

/// Renders the rollout model as the `routes` document (JSON) or as aligned text.
enum RoutesReport {
    static func json(_ model: RolloutModel, configPath: String, endpointExtras: (Endpoint) -> [(String, JSON)] = { _ in [] }) -> JSON {
        .object([
            ("config", .string(configPath)),
            ("groups", .array(model.groups.map { g in
                .object([("name", .string(g.name)), ("key", .string(g.key)), ("percent", .double(g.percent.value)),
                         ("file", .string(g.location.file)), ("line", .int(g.location.line))])
            })),
            ("endpoints", .array(model.endpoints.map { e in
                .object([("name", .string(e.name)), ("pattern", .string(e.pattern)), ("id", .string(e.id.description)),
                         ("target", .optional(e.target, JSON.string)),
                         ("group", .optional(e.groupName ?? e.assignment, JSON.string)), ("percent", .double(e.percent.value)),
                         ("file", .string(e.location.file)), ("line", .int(e.location.line))] + endpointExtras(e))
            })),
            ("problems", problems(model.problems)),
        ])
    }

    /// The fleet's hosts for `routes --json`: `[{"name", "config_sha256", "drift", "files": [{"path", "diff"}], "error"}]`.
    static func hosts(_ drift: DriftReport) -> JSON {
        .array(drift.hosts.map { h in
            .object([("name", .string(h.name)), ("config_sha256", .optional(h.configSHA256, JSON.string)), ("drift", .bool(h.drift)),
                     ("files", .array(h.files.map { .object([("path", .string($0.path)), ("diff", .string($0.diff))]) })),
                     ("error", .optional(h.error, JSON.string))])
        })
    }

    /// The fleet's hosts as text: one line per host with its hash, then each drifted host's diffs.
    static func hostsText(_ drift: DriftReport) -> String {
        var out = "\nhosts:\n"
        out += table(["HOST", "SHA256", "ROUTING"], drift.hosts.map { h in
            [h.name, h.configSHA256.map { String($0.prefix(12)) } ?? "-",
             h.error.map { "UNREADABLE: \($0)" } ?? (h.drift ? "DRIFT: differs from the majority in " + h.files.map(\.path).joined(separator: ", ") : "agrees")]
        }).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        let detail = drift.describe(diffs: true)
        if !drift.agrees { out += "\ndrift:\n" + detail + "\n" }
        return out
    }

    static func problems(_ problems: [Problem]) -> JSON {
        .array(problems.map { p in
            .object([("severity", .string(p.severity.rawValue)), ("message", .string(p.message)),
                     ("file", .string(p.location.file)), ("line", .int(p.location.line))])
        })
    }

    static func text(_ model: RolloutModel, configPath: String) -> String {
        var out = "config: \(configPath)\n\n"
        out += table(["GROUP", "PERCENT", "KEY", "MEMBERS", "AT"], model.groups.map { g in
            [g.name, g.percent.nginxText + (g.rolledBackFrom.map { " (rolled back from \($0.nginxText))" } ?? ""), g.key,
             String(model.members(of: g).count), short(g.location)]
        })
        out += "\n"
        out += table(["ENDPOINT", "GROUP", "PERCENT", "TARGET", "PATTERN", "AT"], model.endpoints.map { e in
            [e.name, e.groupName ?? e.assignment ?? "-", e.percent.nginxText, e.target ?? "-", e.pattern, short(e.location)]
        })
        if !model.problems.isEmpty {
            out += "\nproblems:\n"
            for p in model.problems { out += "  \(p.severity.rawValue): \(p.location): \(p.message)\n" }
        }
        return out
    }

    static func short(_ location: SourceLocation) -> String {
        "\((location.file as NSString).lastPathComponent):\(location.line)"
    }

    /// Left-aligned columns separated by two spaces.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = header.map { _ in 0 }
        for row in all { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        return all.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
