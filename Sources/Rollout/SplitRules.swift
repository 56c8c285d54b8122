/// nginx's rules for `split_clients` blocks, and the pattern's own conventions on top of them.
public enum SplitRules {
    /// Problems nginx would reject (errors) or that make the group mean something other than it looks (warnings).
    public static func check(_ group: Group, names: RolloutNames) -> [Problem] {
        var problems: [Problem] = []
        var sum = 0
        var star: SplitEntry?
        for (i, entry) in group.entries.enumerated() {
            if let p = entry.percent {
                if let star {
                    problems.append(Problem(.splitStarNotLast, .error, "entry \"\(entry.percentText)\" after `*` (line \(star.location.line)) in \(group.variable): nginx rejects it (percent total is greater than 100%); the `*` line must be last", at: entry.location))
                } else {
                    sum += p.hundredths
                    if sum > 10000 {
                        problems.append(Problem(.splitOver100, .error, "percent total is greater than 100% in \(group.variable); lower the entries so they add up to at most 100%", at: entry.location))
                    }
                }
            } else if let star {
                problems.append(Problem(.splitDeadEntry, .warning, "a second `*` in \(group.variable) never matches: the first `*` (line \(star.location.line)) takes every remaining request; remove it", at: entry.location))
            } else {
                star = entry
            }
            if entry.value != names.newLabel && entry.value != names.currentLabel {
                problems.append(Problem(.splitUnknownValue, .warning, "\(group.variable) yields \"\(entry.value)\", which is neither \"\(names.newLabel)\" nor \"\(names.currentLabel)\"; such requests stay on the current service", at: entry.location))
            }
            if i > 0, entry.value == names.newLabel, entry.percent != nil, group.entries[0].value != names.newLabel {
                problems.append(Problem(.splitNewNotFirst, .warning, "the \"\(names.newLabel)\" bucket of \(group.variable) is not first, so raising its percent moves clients between buckets instead of only from current to new; put it first", at: entry.location))
            }
        }
        if star == nil && !group.entries.isEmpty && sum < 10000 {
            problems.append(Problem(.splitNoStar, .warning, "\(group.variable) has no `*` line: the remaining \(Percent(hundredths: max(0, 10000 - sum)).nginxText) get an empty value and fall to the current service silently; add `* \"\(names.currentLabel)\";`", at: group.location))
        }
        return problems
    }
}
