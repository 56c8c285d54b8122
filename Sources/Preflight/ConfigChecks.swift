import Foundation
import NginxConfig
import Rollout

/// The checks on the routing engine's model and tree: map keys, targets, query strings, groups, split keys.
struct ConfigChecks {
    let config: ConfigSet
    let model: RolloutModel
    private let keys = KeyMatcher()

    init(config: ConfigSet, model: RolloutModel) {
        self.config = config
        self.model = model
    }

    func run(logPaths: [String]) -> [Finding] {
        var out: [Finding] = []
        out += unescapedDots()
        out += unanchoredKeys(logPaths: logPaths)
        out += shadowedKeys()
        out += uriNormalisation()
        out += targets()
        out += queryHandling()
        out += groups()
        return out
    }

    private var names: RolloutNames { model.names }

    /// The entries of both pattern maps, whitelist first.
    private var mapEntries: [(map: MapBlock, entry: MapEntry)] {
        [model.whitelistMap, model.groupMap].compactMap { $0 }.flatMap { map in map.entries.map { (map, $0) } }
    }

    /// Distinct keys, each with its first entry (whitelist before group map).
    private var distinctKeys: [MapEntry] {
        var seen: Set<String> = []
        return mapEntries.compactMap { seen.insert($0.entry.key).inserted ? $0.entry : nil }
    }

    private func quotedValue(_ value: String) -> String { Word.quote(value, force: true) }

    // MARK: keys

    func unescapedDots() -> [Finding] {
        var out: [Finding] = []
        for (map, entry) in mapEntries {
            let key = MapKey(entry.key)
            guard key.isRegex, !key.unescapedDots.isEmpty else { continue }
            // A path the key matches only because the dot matches any character.
            var example = ""
            if let pattern = key.pattern {
                var replaced = ""
                let dots = Set(key.unescapedDots)
                for (i, ch) in pattern.enumerated() { replaced += dots.contains(i) ? "_" : String(ch) }
                if let w = keys.witness(MapKey(key.marker + replaced)), keys.matches(entry.key, w) == true {
                    example = " (it also routes `\(w)`)"
                }
            }
            out.append(Finding(.unescapedDot, .warning,
                               "map \(map.variable) key `\(entry.key)` has an unescaped `.`, which matches any character\(example)",
                               at: entry.location,
                               fix: "escape it, in both maps: `\(key.escapingDots) \(quotedValue(entry.value));`"))
        }
        return out
    }

    func unanchoredKeys(logPaths: [String]) -> [Finding] {
        guard let whitelist = model.whitelistMap else { return [] }
        let matcher = MapMatcher(keys: whitelist.entries.map(\.key))
        var out: [Finding] = []
        for entry in distinctKeys {
            let key = MapKey(entry.key)
            guard key.isRegex, !key.hasEndAnchor else { continue }
            let index = whitelist.entries.firstIndex { $0.key == entry.key }
            // Another endpoint's path that nginx sends to this key although the anchored key would not match it.
            var swallowed: [String] = []
            for other in whitelist.entries where other.key != entry.key {
                guard let w = keys.witness(MapKey(other.key)), let index, matcher.winner(w) == index,
                      keys.matches(key.anchored, w) == false else { continue }
                swallowed.append("endpoint `\(other.key)` (`\(w)`)")
            }
            var seen: [String] = []
            for path in logPaths where seen.count < 3 {
                let winner = index.map { matcher.winner(path) == $0 } ?? (keys.matches(entry.key, path) == true)
                guard winner, keys.matches(key.anchored, path) == false else { continue }
                seen.append("`\(path)`")
            }
            var message = "map key `\(entry.key)` has no end anchor, so it also matches longer paths"
            if let w = keys.witness(key), keys.matches(entry.key, w + "_v2") == true { message += " such as `\(w)_v2`" }
            if !swallowed.isEmpty { message += "; it swallows " + swallowed.joined(separator: ", ") }
            if !seen.isEmpty { message += "; paths seen in the logs that it moves: " + seen.joined(separator: ", ") }
            out.append(Finding(.unanchoredKey, .warning, message, at: entry.location,
                               fix: "anchor it with `$`, in both maps: `\(MapKey(key.escapingDots).anchored) \(quotedValue(entry.value));`"))
        }
        return out
    }

    func shadowedKeys() -> [Finding] {
        var out: [Finding] = []
        for map in [model.whitelistMap, model.groupMap].compactMap({ $0 }) {
            let matcher = MapMatcher(keys: map.entries.map(\.key))
            for (i, entry) in map.entries.enumerated() {
                let key = MapKey(entry.key)
                guard let w = keys.witness(key), let j = matcher.winner(w), j != i else { continue }
                let winner = map.entries[j]
                guard winner.key != entry.key else { continue }
                let winnerKey = MapKey(winner.key)
                // An unanchored key that swallows a longer path is reported as unanchored-key.
                if winnerKey.isRegex, !winnerKey.hasEndAnchor, keys.matches(winnerKey.anchored, w) == false { continue }
                let why = winnerKey.isRegex
                    ? "regular expressions are tried in the order they appear and `\(winner.key)` comes first"
                    : "exact keys always win over regular expressions"
                let fix = winnerKey.isRegex
                    ? "make the two keys match disjoint paths (anchor them with `^...$`), or put `\(entry.key)` above `\(winner.key)`"
                    : "remove one of the two keys, or make the regex not match `\(winner.key)`"
                out.append(Finding(.shadowedKey, .warning,
                                   "map \(map.variable) key `\(entry.key)` never gets `\(w)`: nginx picks `\(winner.key)` (\(winner.location)) because \(why)",
                                   at: entry.location, fix: fix))
            }
        }
        return out
    }

    func uriNormalisation() -> [Finding] {
        var out: [Finding] = []
        let maps = [model.whitelistMap, model.groupMap].compactMap { $0 }
        var normalised: MapBlock?
        for map in maps {
            switch map.source {
            case "$uri", "$document_uri":
                if normalised == nil { normalised = map }
            case "$request_uri", "$request":
                out.append(Finding(.uriNormalisation, .warning,
                                   "map \(map.source) \(map.variable) matches the raw request with its query string: an anchored key misses `/v2/x?id=1`, and `%`-encoded or `//` variants of a path are routed differently from how the pattern's other map sees them",
                                   at: map.location, fix: "match the normalised path in both maps: `map $uri \(map.variable) {`"))
            default:
                break
            }
        }
        if out.isEmpty, let map = normalised {
            out.append(Finding(.uriNormalisation, .info,
                               "the maps match the normalised `$uri` (percent-decoded, `//` merged, `/./` and `/../` resolved) while the legacy service receives the raw request URI: encoded or doubled-slash variants of a key (`/v2//x`, `%2E`) move to the new service too, and captured segments reach it decoded",
                               at: map.location))
        }
        return out
    }

    // MARK: targets

    func targets() -> [Finding] {
        guard let whitelist = model.whitelistMap else { return [] }
        var out: [Finding] = []
        let internalRewrites = internalLocationChildren().contains { $0.name.value == "rewrite" }
        for entry in whitelist.entries {
            let key = MapKey(entry.key)
            let target = entry.value
            let example = keys.witness(key)
            if key.isRegex {
                let captures = key.captures
                let missing = captures.filter { c in
                    let byNumber = target.contains("$\(c.number)") || target.contains("${\(c.number)}")
                    let byName = c.name.map { target.contains("$\($0)") || target.contains("${\($0)}") } ?? false
                    return !byNumber && !byName
                }
                if !missing.isEmpty {
                    let refs = missing.map { "$\($0.number)" }
                    let lost = example.map { " (`\($0)` reaches the new service as `\(target)`)" } ?? ""
                    out.append(Finding(.targetDropsCapture, .error,
                                       "map \(whitelist.variable) key `\(entry.key)` captures \(refs.joined(separator: ", ")) but the target `\(target)` does not use \(missing.count == 1 ? "it" : "them"): that part of the path never reaches the new service\(lost)",
                                       at: entry.location,
                                       fix: "carry the capture: `\(entry.key) \(quotedValue(target + refs.map { "/" + $0 }.joined()));`"))
                } else if captures.isEmpty, !target.contains("$"), let part = key.uncapturedVariablePart, let pattern = key.pattern,
                          let range = pattern.range(of: part) {
                    var captured = pattern
                    captured.replaceSubrange(range, with: "(" + part + ")")
                    out.append(Finding(.targetDropsCapture, .warning,
                                       "map \(whitelist.variable) key `\(entry.key)` matches variable text `\(part)` that the fixed target `\(target)` does not carry: every such path goes to the same `\(target)`",
                                       at: entry.location,
                                       fix: "capture it and carry it: `\(key.marker + captured) \(quotedValue(target + "/$1"));`"))
                }
            }
            if internalRewrites, target.contains("?") {
                out.append(Finding(.targetHasQuery, .error,
                                   "map \(whitelist.variable) target `\(target)` contains `?`, which `rewrite ^ $api_path break;` does not split off: it reaches the new service as `%3F` inside the path",
                                   at: entry.location,
                                   fix: "keep targets to paths; the original query string is passed on by the rewrite"))
            }
        }
        return out
    }

    /// The directives inside the internal new-service location, with their file.
    private func internalLocation() -> LocatedDirective? {
        guard let uri = model.internalLocation else { return nil }
        return config.allDirectives().first { item in
            guard item.directive.name.value == "location", item.directive.block != nil else { return false }
            let v = item.directive.values
            return v == ["=", uri] || v == [uri] || v == ["=" + uri]
        }
    }

    private func internalLocationChildren() -> [Directive] {
        internalLocation()?.directive.block?.children ?? []
    }

    func queryHandling() -> [Finding] {
        guard let location = internalLocation() else { return [] }
        var out: [Finding] = []
        let argVariables = ["$args", "${args}", "$query_string", "${query_string}", "$is_args", "${is_args}", "$request_uri", "${request_uri}"]
        for child in location.directive.block?.children ?? [] {
            let here = SourceLocation(file: location.file, line: child.line)
            let values = child.values
            switch child.name.value {
            case "rewrite" where values.count >= 2:
                let replacement = values[1]
                if replacement.hasSuffix("?") {
                    out.append(Finding(.queryDropped, .error,
                                       "`rewrite \(values.joined(separator: " "))` ends its replacement with `?`, which drops the request's query string: `/v2/x?id=1` reaches the new service as its target without `?id=1`",
                                       at: here,
                                       fix: "`rewrite \(values[0]) \(replacement.dropLast())\(values.count > 2 ? " " + values[2] : "");` (rewrite keeps the original arguments when the replacement has no `?`)"))
                } else if argVariables.contains(where: { replacement.contains($0) }) {
                    let base = argVariables.reduce(replacement) { $0.replacingAll($1, with: "") }
                    out.append(Finding(.queryDuplicated, .error,
                                       "`rewrite \(values.joined(separator: " "))` puts the query string into the new path: a `?` that comes from a variable is not split off, so `/v2/x?a=1` reaches the new service as `/v2/x%3Fa=1?a=1`",
                                       at: here,
                                       fix: "`rewrite \(values[0]) \(base)\(values.count > 2 ? " " + values[2] : "");` — rewrite already keeps the original arguments"))
                }
            case "proxy_pass" where values.count == 1:
                let url = values[0]
                guard let schemeEnd = url.range(of: "://") else { continue }
                let rest = url[schemeEnd.upperBound...]
                var uriStart = rest.startIndex
                if rest.first == "$" {
                    uriStart = rest.index(after: uriStart)
                    while uriStart < rest.endIndex, rest[uriStart].isLetter || rest[uriStart].isNumber || rest[uriStart] == "_" || rest[uriStart] == "{" || rest[uriStart] == "}" {
                        uriStart = rest.index(after: uriStart)
                    }
                } else {
                    uriStart = rest.firstIndex { $0 == "/" || $0 == "$" } ?? rest.endIndex
                }
                let uriPart = String(rest[uriStart...])
                guard uriPart.contains("$"), !argVariables.contains(where: { uriPart.contains($0) }) else { continue }
                out.append(Finding(.queryDropped, .error,
                                   "`proxy_pass \(url)` builds the URI from variables, so nginx sends exactly that URI: the request's query string is dropped (`/v2/x?id=1` reaches the new service without `?id=1`)",
                                   at: here, fix: "`proxy_pass \(url)$is_args$args;`"))
            default:
                break
            }
        }
        return out
    }

    // MARK: groups

    func groups() -> [Finding] {
        var out: [Finding] = []
        for group in model.groups {
            let used = model.endpoints.contains { $0.assignment == group.variable || $0.group == group.variable }
                || (model.groupMap?.defaultValue == group.variable)
            if !used {
                out.append(Finding(.unusedGroup, .warning,
                                   "split_clients group \(group.variable) is used by no endpoint: changing its percent moves no traffic",
                                   at: group.location,
                                   fix: "assign endpoints to it in map \(names.splitGroup) (`KEY \"\(group.variable)\";`) or remove the block"))
            }
            if group.key.contains("request_id") {
                out.append(Finding(.splitKeyPerRequest, .info,
                                   "split_clients \(group.variable) splits on `\(group.key)`, i.e. per request: one user flips between the services from one call to the next",
                                   at: group.location,
                                   fix: "to keep each user on one service, split on a stable key: `split_clients \"${cookie_session}${remote_addr}\" \(group.variable) { ... }` (or a user-id header such as `${http_x_user_id}`)"))
            }
        }
        return out
    }
}

extension String {
    /// The string with every occurrence of `target` replaced.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
