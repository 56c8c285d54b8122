import NginxConfig

/// The comment Cutover writes on the line above a rolled-back group or endpoint so `resume` can restore it.
enum RollbackMarker {
    static let tag = "# cutover:rollback "

    /// The marker's `key=value` payload in a directive's leading trivia, if present.
    static func read(_ prefix: String, key: String) -> String? {
        guard prefix.utf8.contains(0x23) else { return nil }  // no comment, no marker
        for line in Trivia.lines(prefix).reversed() {
            let trimmed = Trivia.trimmed(line)
            guard trimmed.hasPrefix(tag) else { continue }
            let payload = trimmed.dropFirst(tag.count)
            let word = payload.split(separator: " ").first.map(String.init) ?? ""
            if word.hasPrefix(key + "=") { return String(word.dropFirst(key.count + 1)) }
        }
        return nil
    }
}


/// Finds the traffic-split pattern in a config and builds the rollout model from it.
public enum Discovery {
    /// Builds the model; anything that deviates from the pattern becomes a problem, nothing is dropped silently.
    public static func discover(_ config: ConfigSet, names: RolloutNames = RolloutNames()) -> RolloutModel {
        var model = RolloutModel(names: names, groups: [], endpoints: [], problems: [], whitelistMap: nil, flagMap: nil,
                                 groupMap: nil, routingMap: nil, routingLocation: nil, internalLocation: nil,
                                 internalLocationSource: nil, migrationLog: nil, mainLog: nil, logFormats: [])
        let all = config.allDirectives(skippingEntriesOf: ["map", "split_clients", "types", "geo"])
        let mainLocation = SourceLocation(file: config.mainPath, line: 0)
        var accessLogs: [LocatedDirective] = []
        var locations: [LocatedDirective] = []

        for item in all {
            let d = item.directive
            let here = SourceLocation(file: item.file, line: d.line)
            switch d.name.value {
            case "map" where d.block != nil:
                guard d.args.count == 2 else { continue }
                let map = readMap(item, config: config)
                var target: WritableKeyPath<RolloutModel, MapBlock?>?
                var expectedSource = ""
                switch map.variable {
                case names.targetPath: target = \.whitelistMap; expectedSource = "$uri"
                case names.isMigratable: target = \.flagMap; expectedSource = names.targetPath
                case names.splitGroup: target = \.groupMap; expectedSource = "$uri"
                case names.apiRouting: target = \.routingMap; expectedSource = names.isMigratable
                default: break
                }
                guard let target else { continue }
                if let previous = model[keyPath: target] {
                    model.problems.append(Problem(.error, "a second map defines \(map.variable) (the first is at \(previous.location)); nginx rejects duplicate variables — keep one", at: here))
                    continue
                }
                if map.source != expectedSource {
                    model.problems.append(Problem(.warning, "map \(map.source) \(map.variable): expected the source \(expectedSource) (the pattern's `map \(expectedSource) \(map.variable)`); Cutover reads it anyway", at: here))
                }
                model[keyPath: target] = map
            case "split_clients" where d.block != nil:
                if let group = readGroup(item, names: names, problems: &model.problems) { model.groups.append(group) }
            case "log_format":
                if let f = readLogFormat(d, at: here) { model.logFormats.append(f) }
            case "access_log":
                accessLogs.append(item)
            case "location":
                locations.append(item)
            default:
                break
            }
        }

        findLocations(locations, accessLogs: accessLogs, names: names, into: &model)
        buildEndpoints(into: &model, names: names, fallback: mainLocation)
        checkStructure(&model, names: names, fallback: mainLocation)
        return model
    }

    static func readMap(_ item: LocatedDirective, config: ConfigSet) -> MapBlock {
        let d = item.directive
        var map = MapBlock(source: d.values[0], variable: d.values[1], location: SourceLocation(file: item.file, line: d.line),
                           path: item.path, entries: [], defaultValue: nil)
        for (i, entry) in (d.block?.children ?? []).enumerated() {
            let key = entry.name.value
            let value = entry.args.first?.value ?? ""
            let path = DirectivePath(file: item.file, indices: item.path.indices + [i])
            switch key {
            case "default": map.defaultValue = value
            case "hostnames", "volatile", "include": continue
            default:
                let unescaped = key.hasPrefix("\\") ? String(key.dropFirst()) : key
                map.entries.append(MapEntry(key: unescaped, value: value, location: SourceLocation(file: item.file, line: entry.line),
                                            path: path, leading: entry.name.prefix))
            }
        }
        return map
    }

    static func readGroup(_ item: LocatedDirective, names: RolloutNames, problems: inout [Problem]) -> Group? {
        let d = item.directive
        let here = SourceLocation(file: item.file, line: d.line)
        guard d.args.count == 2 else {
            problems.append(Problem(.error, "split_clients needs a key and a variable (`split_clients \"${request_id}\" $groupN_routing { ... }`)", at: here))
            return nil
        }
        var entries: [SplitEntry] = []
        for child in d.block?.children ?? [] {
            let text = child.name.value
            let at = SourceLocation(file: item.file, line: child.line)
            let value = child.args.first?.value ?? ""
            if child.args.count != 1 {
                problems.append(Problem(.error, "split_clients entry `\(Trivia.trimmed(ConfigPrinter.print(child)))` has \(child.args.count) values; each entry is `PERCENT% VALUE;` — a missing `;` joins two entries", at: at))
            }
            if text == "*" {
                entries.append(SplitEntry(percent: nil, percentText: text, value: value, location: at))
            } else if let p = Percent(parsing: text), text.hasSuffix("%") {
                entries.append(SplitEntry(percent: p, percentText: text, value: value, location: at))
            } else {
                problems.append(Problem(.error, "invalid percent value \"\(text)\" in split_clients \(d.values[1]); write it like 25% or 12.5% (at most two decimals)", at: at))
            }
        }
        var newShare = 0
        for e in entries where e.value == names.newLabel { newShare += e.percent?.hundredths ?? 0 }
        if entries.contains(where: { $0.percent == nil && $0.value == names.newLabel }) {
            let given = entries.compactMap(\.percent?.hundredths).reduce(0, +)
            newShare += max(0, 10000 - given)
        }
        let group = Group(variable: d.values[1], key: d.args[0].value, percent: Percent(hundredths: min(newShare, 10000)),
                          entries: entries, location: here, path: item.path,
                          rolledBackFrom: RollbackMarker.read(d.name.prefix, key: "percent").flatMap { Percent(parsing: $0) })
        for problem in SplitRules.check(group, names: names) { problems.append(problem) }
        return group
    }

    static func readLogFormat(_ d: Directive, at here: SourceLocation) -> LogFormatDefinition? {
        var values = d.values
        guard !values.isEmpty else { return nil }
        let name = values.removeFirst()
        var escape = "default"
        if let first = values.first, first.hasPrefix("escape=") {
            escape = String(first.dropFirst("escape=".count))
            values.removeFirst()
        }
        return LogFormatDefinition(name: name, escape: escape, template: values.joined(), location: here)
    }

    static func readAccessLog(_ directive: Directive, file: String) -> AccessLogBinding? {
        let values = directive.values
        guard let path = values.first else { return nil }
        var format = "combined"
        var params = Array(values.dropFirst())
        if let f = params.first, !f.contains("=") && f != "gzip" {
            format = f
            params.removeFirst()
        }
        return AccessLogBinding(path: path, format: format, parameters: params,
                                location: SourceLocation(file: file, line: directive.line))
    }

    static func findLocations(_ locations: [LocatedDirective], accessLogs: [LocatedDirective], names: RolloutNames, into model: inout RolloutModel) {
        // The routing location: an `if ($api_routing = "new_service")` that rewrites into an internal location.
        var internalURI: String?
        var routingServer: Directive?
        for loc in locations {
            for child in loc.directive.block?.children ?? [] where child.name.value == "if" {
                let condition = child.values.joined(separator: " ")
                guard condition.contains(names.apiRouting), condition.contains(names.newLabel) else { continue }
                for inner in child.block?.children ?? [] where inner.name.value == "rewrite" {
                    let v = inner.values
                    if v.count >= 2 {
                        internalURI = v[1]
                        model.routingLocation = SourceLocation(file: loc.file, line: loc.directive.line)
                        routingServer = loc.ancestors.last { $0.name.value == "server" }
                    }
                }
            }
        }
        model.internalLocation = internalURI
        var internalItem: LocatedDirective?
        if let uri = internalURI {
            internalItem = locations.first { l in
                let v = l.directive.values
                return (v == ["=", uri] || v == [uri] || v == ["=" + uri])
            }
        }
        if let internalItem {
            model.internalLocationSource = SourceLocation(file: internalItem.file, line: internalItem.directive.line)
            for child in internalItem.directive.block?.children ?? [] where child.name.value == "access_log" {
                model.migrationLog = readAccessLog(child, file: internalItem.file)
            }
        }
        // The main log: the routing server's own access_log, else the http block's.
        let serverLevel = accessLogs.filter { item in
            guard let parent = item.ancestors.last, parent.name.value == "server" else { return false }
            return routingServer == nil || parent == routingServer
        }
        let httpLevel = accessLogs.filter { $0.ancestors.last?.name.value == "http" }
        if let chosen = serverLevel.last ?? httpLevel.last {
            model.mainLog = readAccessLog(chosen.directive, file: chosen.file)
        }
    }

    /// A readable name for a map key: its last path segment (`book.get_chapter_details`), with the segment
    /// before it when the last one is a regex pattern (`orders/(\d+)`); `segments` asks for more segments
    /// to tell apart keys that would otherwise share a name.
    static func shortName(for key: String, segments: Int = 1) -> String {
        var key = key
        return key.withUTF8 { shortName(utf8: $0, segments: max(1, segments)) } ?? key
    }

    private static func shortName(utf8: UnsafeBufferPointer<UInt8>, segments: Int) -> String? {
        let slash: UInt8 = 0x2F, backslash: UInt8 = 0x5C
        var start = 0, end = utf8.count
        if utf8.count >= 2, utf8[0] == 0x7E, utf8[1] == 0x2A { start = 2 } else if utf8.first == 0x7E { start = 1 }
        if start < end, utf8[start] == 0x5E { start += 1 }
        if end - start >= 1, utf8[end - 1] == 0x24, !(end - start >= 2 && utf8[end - 2] == backslash) { end -= 1 }
        func isSlash(_ i: Int) -> Bool { utf8[i] == slash && !(i > start && utf8[i - 1] == backslash) }
        while end > start, isSlash(end - 1) { end -= 1 }
        // Walk back over `take` segments; one more when the last is a regex pattern rather than a name.
        var take = segments
        var segStart = end, taken = 0, lastIsPattern = false
        var cursor = end
        while cursor > start && taken < take {
            var i = cursor
            while i > start, !isSlash(i - 1) { i -= 1 }
            if taken == 0 {
                lastIsPattern = utf8[i..<cursor].contains { b in b == 0x28 || b == 0x5B || b == 0x7B || b == 0x2A || b == 0x2B || b == 0x3F || b == 0x7C }
                if lastIsPattern { take += 1 }
            }
            segStart = i
            taken += 1
            cursor = i
            while cursor > start, isSlash(cursor - 1) { cursor -= 1 }
        }
        guard segStart < end else { return nil }
        let name = UnsafeBufferPointer(rebasing: utf8[segStart..<end])
        guard name.contains(backslash) else { return String(decoding: name, as: UTF8.self) }
        // Regex escapes of punctuation read better without the backslash (`book\.info` → `book.info`; `\d` stays).
        var out: [UInt8] = []
        out.reserveCapacity(name.count)
        var i = 0
        while i < name.count {
            if name[i] == backslash, i + 1 < name.count {
                let next = name[i + 1]
                let alnum = (next >= 0x30 && next <= 0x39) || (next >= 0x41 && next <= 0x5A) || (next >= 0x61 && next <= 0x7A)
                if alnum { out.append(backslash) }
                out.append(next)
                i += 2
                continue
            }
            out.append(name[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Gives endpoints that share a short name longer names, one path segment at a time, until they differ.
    static func disambiguate(_ endpoints: inout [Endpoint]) {
        var segments = Array(repeating: 1, count: endpoints.count)
        for _ in 0..<8 {
            var byName: [String: [Int]] = [:]
            for (i, e) in endpoints.enumerated() { byName[e.name, default: []].append(i) }
            let clashes = byName.values.filter { $0.count > 1 }
            if clashes.isEmpty { return }
            for group in clashes {
                for i in group {
                    segments[i] += 1
                    let longer = shortName(for: endpoints[i].pattern, segments: segments[i])
                    endpoints[i].name = longer == endpoints[i].name ? endpoints[i].pattern : longer
                }
            }
        }
    }

    static func buildEndpoints(into model: inout RolloutModel, names: RolloutNames, fallback: SourceLocation) {
        let whitelist = model.whitelistMap?.entries ?? []
        let assignments = model.groupMap?.entries ?? []
        var byKey: [String: Int] = [:]
        byKey.reserveCapacity(whitelist.count + assignments.count)
        var endpoints: [Endpoint] = []
        endpoints.reserveCapacity(whitelist.count)
        for entry in whitelist {
            if byKey[entry.key] != nil {
                model.problems.append(Problem(.error, "duplicate key \(entry.key) in map \(names.targetPath); nginx rejects it — remove one", at: entry.location))
                continue
            }
            byKey[entry.key] = endpoints.count
            endpoints.append(Endpoint(pattern: entry.key, name: shortName(for: entry.key), target: entry.value, assignment: nil,
                                      group: nil, percent: .zero, location: entry.location, targetEntryPath: entry.path,
                                      groupEntryPath: nil, rolledBackFrom: nil))
        }
        for entry in assignments {
            let index: Int
            if let i = byKey[entry.key] {
                if endpoints[i].groupEntryPath != nil {
                    model.problems.append(Problem(.error, "duplicate key \(entry.key) in map \(names.splitGroup); nginx rejects it — remove one", at: entry.location))
                    continue
                }
                index = i
            } else {
                index = endpoints.count
                byKey[entry.key] = index
                endpoints.append(Endpoint(pattern: entry.key, name: shortName(for: entry.key), target: nil, assignment: nil,
                                          group: nil, percent: .zero, location: entry.location, targetEntryPath: nil,
                                          groupEntryPath: nil, rolledBackFrom: nil))
                model.problems.append(Problem(.error, "endpoint \(entry.key) is in map \(names.splitGroup) but not in map \(names.targetPath), so it is never migrated; add it to the whitelist with its target path or remove it", at: entry.location))
            }
            endpoints[index].assignment = entry.value
            endpoints[index].groupEntryPath = entry.path
            endpoints[index].rolledBackFrom = RollbackMarker.read(entry.leading, key: "group")
        }
        let groupsByVariable = Dictionary(model.groups.map { ($0.variable, $0) }, uniquingKeysWith: { a, _ in a })
        for i in endpoints.indices {
            let e = endpoints[i]
            guard let assignment = e.assignment else {
                model.problems.append(Problem(.error, "endpoint \(e.pattern) is in map \(names.targetPath) but not in map \(names.splitGroup); assign it a group (`cutover set \(e.name) --group NAME`)", at: e.location))
                continue
            }
            if assignment == names.currentLabel {
                endpoints[i].percent = .zero
            } else if assignment == names.newLabel {
                endpoints[i].percent = .hundred
            } else if let group = groupsByVariable[assignment] {
                endpoints[i].group = group.variable
                endpoints[i].percent = e.target == nil ? .zero : group.percent
            } else {
                let at = e.groupEntryPath.map { p in assignments.first { $0.path == p }?.location } ?? nil
                model.problems.append(Problem(.error, "endpoint \(e.pattern) is assigned to \(assignment), which is no split_clients group; create it (`cutover group \(assignment.dropFirst()) --percent P --create`) or pick an existing group", at: at ?? e.location))
            }
        }
        disambiguate(&endpoints)
        model.endpoints = endpoints
    }

    static func checkStructure(_ model: inout RolloutModel, names: RolloutNames, fallback: SourceLocation) {
        if model.whitelistMap == nil {
            model.problems.append(Problem(.error, "no whitelist map found: expected `map $uri \(names.targetPath) { KEY \"/new/path\"; ... }` listing the endpoints ready to move", at: fallback))
        }
        if model.groupMap == nil {
            model.problems.append(Problem(.error, "no group-assignment map found: expected `map $uri \(names.splitGroup) { KEY \"$groupN_routing\"; ... }`", at: fallback))
        }
        if model.flagMap == nil {
            model.problems.append(Problem(.warning, "no migratable flag map found: expected `map \(names.targetPath) \(names.isMigratable) { \"\" 0; default 1; }`", at: fallback))
        }
        if let routing = model.routingMap {
            let values = Dictionary(routing.entries.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            if values["1"] != names.splitGroup || values["0"] != names.currentLabel {
                model.problems.append(Problem(.warning, "map \(routing.source) \(routing.variable) should read `0 \"\(names.currentLabel)\"; 1 \(names.splitGroup);`; found \(routing.entries.map { "\($0.key) \($0.value)" }.joined(separator: "; "))", at: routing.location))
            }
        } else {
            model.problems.append(Problem(.warning, "no routing map found: expected `map \(names.isMigratable) \(names.apiRouting) { 0 \"\(names.currentLabel)\"; 1 \(names.splitGroup); }`", at: fallback))
        }
        if model.groups.isEmpty {
            model.problems.append(Problem(.warning, "no split_clients group found: expected `split_clients \"${request_id}\" $group1_routing { 10% \"\(names.newLabel)\"; * \"\(names.currentLabel)\"; }`", at: fallback))
        }
        if model.routingLocation == nil {
            model.problems.append(Problem(.warning, "no location routes \(names.apiRouting) = \"\(names.newLabel)\" into an internal location: expected `if (\(names.apiRouting) = \"\(names.newLabel)\") { ... rewrite ^ /internal_new_service_proxy last; }`", at: fallback))
        } else if model.internalLocationSource == nil, let uri = model.internalLocation {
            model.problems.append(Problem(.warning, "the routing rewrites to \(uri) but no `location = \(uri)` exists", at: model.routingLocation ?? fallback))
        } else if model.migrationLog == nil {
            model.problems.append(Problem(.warning, "the internal location has no access_log of its own, so there is no migration log to read; add `access_log /var/log/nginx/migration_traffic.log;` there", at: model.internalLocationSource ?? fallback))
        }
    }
}

