import Apply

extension Preflight {
    /// The findings about a fleet's routing: each host whose routing differs from the majority's
    /// (`host-drift`, with the files and the diff) and each host whose routing cannot be read (`host-unreachable`).
    public static func fleetFindings(_ drift: DriftReport) -> [Finding] {
        let agreeing = drift.hosts.filter { !$0.drift }.map(\.name)
        var findings: [Finding] = []
        for host in drift.hosts where host.drift {
            if let error = host.error {
                findings.append(Finding(.hostUnreachable, .error, "the routing on host \(host.name) cannot be read: \(error)", at: nil,
                                        fix: "check the host's `run` prefix and `config` path in cutover.yaml, or leave it out of a change with --hosts"))
                continue
            }
            let files = host.files.map(\.path).joined(separator: ", ")
            let diff = host.files.map(\.diff).joined()
            findings.append(Finding(.hostDrift, .error, "host \(host.name)'s routing differs from the majority's (\(agreeing.joined(separator: ", "))) in \(files); "
                                    + "edits are refused until the hosts agree:\n" + diff, at: nil,
                                    fix: "make it identical with `cutover sync --from \(agreeing.first ?? "HOST")`, or edit only agreeing hosts with --hosts"))
        }
        return findings
    }
}
