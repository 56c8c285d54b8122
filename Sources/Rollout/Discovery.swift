#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
            for word in payload.split(separator: " ") {
                if word.hasPrefix("(") { break }
                if word.hasPrefix(key + "=") { return String(word.dropFirst(key.count + 1)) }
            }
        }
        return nil
    }
}


/// Finds the traffic-split pattern in a config and builds the rollout model from it.
public enum Discovery {
    /// A variable definition in the http context: which directive defines it and where.
    struct Definition {
        var kind: String
        var location: SourceLocation
        var path: DirectivePath
    }

    /// Builds the model as nginx reads the config: the last definition of a variable wins, `stream {}` blocks
    /// are another context, `include`s inside map blocks are read in place; anything that deviates from the
    /// pattern becomes a problem, nothing is dropped silently.
    public static func discover(_ config: ConfigSet, names: RolloutNames = RolloutNames()) -> RolloutModel {
        var model = RolloutModel(names: names, groups: [], endpoints: [], problems: [], whitelistMap: nil, flagMap: nil,
                                 groupMap: nil, routingMap: nil, routingLocation: nil, internalLocation: nil,
                                 internalLocationSource: nil, migrationLog: nil, mainLog: nil, logFormats: [])
        let all = config.allDirectives(skippingEntriesOf: ["map", "split_clients", "types", "geo"])
        let mainLocation = SourceLocation(file: config.mainPath, line: 0)
        var accessLogs: [LocatedDirective] = []
        var locations: [LocatedDirective] = []
        var maps: [MapBlock] = []
        var groups: [Group] = []
        var definitions: [String: [Definition]] = [:]
        var order: [String] = []
        var defined: Set<String> = []
        var references: [(value: String, location: SourceLocation)] = []

        func define(_ variable: String, kind: String, at here: SourceLocation, path: DirectivePath) {
            let name = MapKey.asciiLowercased(String(variable.dropFirst()))
            if definitions[name] == nil { order.append(name) }
            definitions[name, default: []].append(Definition(kind: kind, location: here, path: path))
            defined.insert(name)
        }

        for item in all {
            let d = item.directive
            let here = SourceLocation(file: item.file, line: d.line)
            for word in d.args where word.value.contains("(?") {
                for capture in NginxVariables.namedCaptures(in: word.value) { defined.insert(MapKey.asciiLowercased(capture)) }
            }
            if item.ancestors.contains(where: { $0.name.value == "stream" }) { continue }
            switch d.name.value {
            case "map" where d.block != nil:
                guard d.args.count == 2 else { continue }
                guard checkOutputVariable(d.values[1], directive: "map", at: here, problems: &model.problems) else { continue }
                let map = readMap(item, config: config, problems: &model.problems)
                for i in map.entries.indices where map.entries[i].mapKey.isRegex {
                    for capture in NginxVariables.namedCaptures(in: map.entries[i].key) { defined.insert(MapKey.asciiLowercased(capture)) }
                }
                references.append((map.source, here))
                define(map.variable, kind: "map", at: here, path: item.path)
                maps.append(map)
            case "split_clients" where d.block != nil:
                guard d.args.count == 2 else {
                    model.problems.append(Problem(.splitMalformed, .error, "split_clients needs a key and a variable (`split_clients \"${request_id}\" $groupN_routing { ... }`)", at: here))
                    continue
                }
                guard checkOutputVariable(d.values[1], directive: "split_clients", at: here, problems: &model.problems) else { continue }
                references.append((d.values[0], here))
                if let group = readGroup(item, names: names, problems: &model.problems) {
                    define(group.variable, kind: "split_clients", at: here, path: item.path)
                    groups.append(group)
                }
            case "geo" where d.block != nil:
                if let variable = d.values.last, variable.hasPrefix("$") { define(variable, kind: "geo", at: here, path: item.path) }
            case "set", "perl_set", "js_set":
                if let variable = d.values.first, variable.hasPrefix("$") { defined.insert(MapKey.asciiLowercased(String(variable.dropFirst()))) }
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

        // The last definition of a variable is the one nginx uses; earlier ones are dead.
        var winner: [String: DirectivePath] = [:]
        for name in order {
            guard let defs = definitions[name], let last = defs.last else { continue }
            winner[name] = last.path
            for earlier in defs.dropLast() {
                model.problems.append(Problem(.variableRedefined, .warning, "$\(name) is defined here by \(earlier.kind) and again at \(last.location) by \(last.kind); nginx uses only the last definition, so this \(earlier.kind) has no effect — remove one of the two", at: earlier.location))
            }
        }
        func wins(_ variable: String, _ path: DirectivePath) -> Bool {
            winner[MapKey.asciiLowercased(String(variable.dropFirst()))] == path
        }
        model.groups = groups.filter { wins($0.variable, $0.path) }
        for map in maps where wins(map.variable, map.path) {
            var target: WritableKeyPath<RolloutModel, MapBlock?>?
            var expectedSource = ""
            switch MapKey.asciiLowercased(map.variable) {
            case MapKey.asciiLowercased(names.targetPath): target = \.whitelistMap; expectedSource = "$uri"
            case MapKey.asciiLowercased(names.isMigratable): target = \.flagMap; expectedSource = names.targetPath
            case MapKey.asciiLowercased(names.splitGroup): target = \.groupMap; expectedSource = "$uri"
            case MapKey.asciiLowercased(names.apiRouting): target = \.routingMap; expectedSource = names.isMigratable
            default: break
            }
            guard let target else { continue }
            if map.source != expectedSource {
                model.problems.append(Problem(expectedSource == "$uri" ? .uriNormalisation : .mapSource, .warning, "map \(map.source) \(map.variable): expected the source \(expectedSource) (the pattern's `map \(expectedSource) \(map.variable)`); Cutover reads it anyway", at: map.location))
            }
            model[keyPath: target] = map
            for i in map.entries.indices where Self.mentionsVariable(map.entries[i].value) {
                references.append((map.entries[i].value, map.entries[i].location))
            }
            if let value = map.defaultValue { references.append((value, map.location)) }
        }
        checkReferences(references, defined: defined, problems: &model.problems)
        model.definedVariables = defined

        findLocations(locations, accessLogs: accessLogs, names: names, into: &model)
        // Relative log paths are opened by nginx under its prefix, not under Cutover's working directory.
        for log in [\RolloutModel.mainLog, \RolloutModel.migrationLog] {
            guard let binding = model[keyPath: log], !binding.isSpecial, let resolved = config.resolvedPath(binding.path) else { continue }
            model[keyPath: log]?.path = resolved
        }
        buildEndpoints(into: &model, names: names, fallback: mainLocation)
        checkStructure(&model, names: names, fallback: mainLocation)
        return model
    }

    /// The model of `after`, which differs from `before` (whose model is `model`) only inside the split_clients
    /// block of `variable`, on the same lines: that group read again and its endpoints' percents set from it,
    /// everything else kept. Nil when that cannot be told for sure (the block moved a line, was defined twice,
    /// or its own problems changed): then the whole config must be discovered again.
    static func regroup(_ model: RolloutModel, before: ConfigSet, after: ConfigSet, variable: String, names: RolloutNames) -> RolloutModel? {
        let name = MapKey.asciiLowercased(variable)
        guard let index = model.groups.firstIndex(where: { $0.variable == variable }),
              model.groups.count(where: { MapKey.asciiLowercased($0.variable) == name }) == 1,
              !model.problems.contains(where: { $0.kind == .variableRedefined }) else { return nil }
        let path = model.groups[index].path
        guard let old = before.directive(at: path), let new = after.directive(at: path),
              old.name.value == "split_clients", new.name.value == "split_clients", old.values == new.values,
              ConfigPrinter.print(old).utf8.count(where: { $0 == 0x0a }) == ConfigPrinter.print(new).utf8.count(where: { $0 == 0x0a })
        else { return nil }
        var oldProblems: [Problem] = [], newProblems: [Problem] = []
        guard readGroup(LocatedDirective(directive: old, path: path, ancestors: []), names: names, problems: &oldProblems) == model.groups[index],
              let group = readGroup(LocatedDirective(directive: new, path: path, ancestors: []), names: names, problems: &newProblems),
              oldProblems == newProblems else { return nil }
        var out = model
        out.groups[index] = group
        for i in out.endpoints.indices where out.endpoints[i].group == variable && out.endpoints[i].assignment != nil {
            out.endpoints[i].percent = out.endpoints[i].target != nil ? group.percent : .zero
        }
        return out
    }

    /// nginx's checks on a `map`/`split_clients` output variable: `$` first, a name, not a fixed built-in.
    static func checkOutputVariable(_ variable: String, directive: String, at here: SourceLocation, problems: inout [Problem]) -> Bool {
        guard variable.hasPrefix("$"), variable.count > 1 else {
            problems.append(Problem(.variableInvalid, .error, "invalid variable name \"\(variable)\" in \(directive): nginx rejects it; write the variable with `$` (e.g. `$\(variable.hasPrefix("$") ? "group1_routing" : variable)`)", at: here))
            return false
        }
        let name = MapKey.asciiLowercased(String(variable.dropFirst()))
        if NginxVariables.builtins.contains(name) && !NginxVariables.changeableBuiltins.contains(name) {
            problems.append(Problem(.variableDuplicate, .error, "the duplicate \"\(name)\" variable: \(directive) \(variable) redefines nginx's built-in $\(name), which nginx rejects; rename the variable", at: here))
            return false
        }
        return true
    }

    /// Every variable a value refers to must exist (nginx: `unknown "x" variable`) and be well formed.
    static func checkReferences(_ values: [(value: String, location: SourceLocation)], defined: Set<String>, problems: inout [Problem]) {
        for (value, location) in values where mentionsVariable(value) {
            switch NginxVariables.references(in: value) {
            case .failure(let error):
                problems.append(Problem(.variableInvalid, .error, "\(error.message): nginx rejects it; fix the variable reference", at: location))
            case .success(let refs):
                for case .variable(let name) in refs {
                    let lower = MapKey.asciiLowercased(name)
                    guard !defined.contains(lower), !NginxVariables.isProvided(lower) else { continue }
                    problems.append(Problem(.variableUnknown, .error, "unknown \"\(name)\" variable in \"\(value)\": nginx rejects the config; use a variable nginx or the config defines (a built-in, $arg_…, $http_…, $cookie_…, or one set by set/map/split_clients/a named capture)", at: location))
                }
            }
        }
    }

    static func readMap(_ item: LocatedDirective, config: ConfigSet, problems: inout [Problem]) -> MapBlock {
        let d = item.directive
        var map = MapBlock(source: d.values[0], variable: d.values[1], location: SourceLocation(file: item.file, line: d.line),
                           path: item.path, entries: [], defaultValue: nil)
        readMapEntries(d.block?.children ?? [], file: item.file, indices: item.path.indices, config: config, into: &map,
                       problems: &problems, seen: [item.file])
        return map
    }

    /// Reads a map block's lines as `ngx_http_map` does, following `include` in place.
    static func readMapEntries(_ children: [Directive], file: String, indices: [Int], config: ConfigSet, into map: inout MapBlock,
                               problems: inout [Problem], seen: Set<String>) {
        for (i, entry) in children.enumerated() {
            let word = entry.name.value
            let path = DirectivePath(file: file, indices: indices + [i])
            let at = SourceLocation(file: file, line: entry.line)
            if entry.args.isEmpty && (word == "hostnames" || word == "volatile") { continue }
            guard entry.args.count == 1, entry.block == nil else {
                problems.append(Problem(.mapInvalidParameters, .error, "invalid number of the map parameters in `\(Trivia.trimmed(ConfigPrinter.print(entry)))`: nginx rejects it; write each line as `KEY VALUE;`", at: at))
                continue
            }
            let value = entry.args[0].value
            switch word {
            case "include":
                for target in config.includes[path] ?? [] where !seen.contains(target) {
                    guard let included = config.files[target] else { continue }
                    readMapEntries(included.children, file: target, indices: [], config: config, into: &map, problems: &problems,
                                   seen: seen.union([target]))
                }
            case "default":
                if map.defaultValue != nil {
                    problems.append(Problem(.mapInvalidParameters, .error, "duplicate default map parameter in map \(map.variable): nginx rejects it; keep one `default`", at: at))
                }
                map.defaultValue = value
            default:
                let key = MapKey(raw: word)
                if let error = RegexCheck.error(for: key) {
                    problems.append(Problem(.regexInvalid, .error, "map \(map.variable) key `\(word)` does not compile: pcre2_compile() failed: \(error); nginx rejects it — fix the regular expression", at: at))
                }
                map.entries.append(MapEntry(mapKey: key, key: key.isRegex ? word : key.key, value: value, location: at,
                                            path: path, leading: entry.name.prefix))
            }
        }
    }

    static func readGroup(_ item: LocatedDirective, names: RolloutNames, problems: inout [Problem]) -> Group? {
        let d = item.directive
        let here = SourceLocation(file: item.file, line: d.line)
        var entries: [SplitEntry] = []
        for (index, child) in (d.block?.children ?? []).enumerated() {
            let text = child.name.value
            let at = SourceLocation(file: item.file, line: child.line)
            let value = child.args.first?.value ?? ""
            if child.args.count != 1 {
                problems.append(Problem(.splitMissingSemicolon, .error, "split_clients entry `\(Trivia.trimmed(ConfigPrinter.print(child)))` has \(child.args.count) values; each entry is `PERCENT% VALUE;` — a missing `;` joins two entries", at: at))
            }
            if text == "*" {
                entries.append(SplitEntry(percent: nil, percentText: text, value: value, location: at, childIndex: index))
            } else if text.hasSuffix("%"), let p = Percent(parsing: text), p.hundredths > 0 {
                entries.append(SplitEntry(percent: p, percentText: text, value: value, location: at, childIndex: index))
            } else if text.hasSuffix("%"), let p = Percent(parsing: text), p.hundredths == 0 {
                problems.append(Problem(.splitZeroPercent, .error, "invalid percent value \"\(text)\" in \(d.values[1]): nginx rejects 0% entries; a group at 0% is its `*` line alone", at: at))
            } else {
                problems.append(Problem(.splitInvalidPercent, .error, "invalid percent value \"\(text)\" in split_clients \(d.values[1]); write it like 25% or 12.5% (at most two decimals)", at: at))
            }
        }
        let group = Group(variable: d.values[1], key: d.args[0].value, percent: Percent(hundredths: SplitSemantics.share(of: names.newLabel, in: entries)),
                          entries: entries, location: here, path: item.path,
                          rolledBackFrom: RollbackMarker.read(d.name.prefix, key: "percent").flatMap { Percent(parsing: $0) },
                          rollbackFlips: RollbackMarker.read(d.name.prefix, key: "flip").map { $0.split(separator: ",").compactMap { Int($0) } })
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
            var bindings: [AccessLogBinding] = []
            for child in internalItem.directive.block?.children ?? [] where child.name.value == "access_log" {
                if let binding = readAccessLog(child, file: internalItem.file) { bindings.append(binding) }
            }
            // nginx writes every access_log of a level; the file one is the migration log, syslog ones ship it.
            model.migrationLog = bindings.last { !$0.path.hasPrefix("syslog:") } ?? bindings.last
            model.migrationSyslogLogs = bindings.filter { $0.path.hasPrefix("syslog:") }
        }
        // The main log: the routing server's own access_log, else the http block's.
        let serverLevel = accessLogs.filter { item in
            guard let parent = item.ancestors.last, parent.name.value == "server" else { return false }
            return routingServer == nil || parent == routingServer
        }
        let httpLevel = accessLogs.filter { $0.ancestors.last?.name.value == "http" }
        let level = (serverLevel.isEmpty ? httpLevel : serverLevel).compactMap { readAccessLog($0.directive, file: $0.file) }
        model.mainLog = level.last { !$0.path.hasPrefix("syslog:") } ?? level.last
        model.mainSyslogLogs = level.filter { $0.path.hasPrefix("syslog:") }
    }

    /// A readable name for a map key: its last path segment (`book.get_chapter_details`), with the segment
    /// before it when the last one is a regex pattern (`orders/(\d+)`); `segments` asks for more segments
    /// to tell apart keys that would otherwise share a name.
    public static func shortName(for key: String, segments: Int = 1) -> String {
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

    /// Whether `value` has a `$` (only such values can name a variable), by one `memchr` over its bytes.
    static func mentionsVariable(_ value: String) -> Bool {
        if let found = value.utf8.withContiguousStorageIfAvailable({ bytes in bytes.baseAddress.map { memchr($0, 0x24, bytes.count) != nil } ?? false }) {
            return found
        }
        return value.utf8.contains(0x24)
    }

    /// Gives endpoints that share a short name longer names, one path segment at a time, until they differ.
    static func disambiguate(_ endpoints: inout [Endpoint]) {
        var segments = Array(repeating: 1, count: endpoints.count)
        for _ in 0..<8 {
            var byName: [String: [Int]] = [:]
            // By index: copying each endpoint to read its name costs a dozen retains and releases.
            for i in endpoints.indices { byName[endpoints[i].name, default: []].append(i) }
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
        var byKey: [MapKey: Int] = [:]
        byKey.reserveCapacity(whitelist.count + assignments.count)
        var endpoints: [Endpoint] = []
        endpoints.reserveCapacity(whitelist.count)
        /// nginx refuses an exact key twice (case-insensitively: "conflicting parameter"); a repeated regex is
        /// accepted and never matches, since the first one is tried first.
        func repeated(_ entry: MapEntry, in map: String, first: SourceLocation) {
            if entry.mapKey.isRegex {
                model.problems.append(Problem(.repeatedRegexKey, .warning, "regex key \(entry.key) appears again in map \(map) (first at \(first)); nginx tries the first one, so this line never matches — remove it", at: entry.location))
            } else {
                model.problems.append(Problem(.duplicateKey, .error, "duplicate key \(entry.key) in map \(map) (nginx compares exact keys case-insensitively; the first is at \(first)): nginx rejects it with \"conflicting parameter\" — remove one", at: entry.location))
            }
        }
        for entry in whitelist {
            if let i = byKey[entry.mapKey] {
                repeated(entry, in: names.targetPath, first: endpoints[i].location)
                continue
            }
            byKey[entry.mapKey] = endpoints.count
            endpoints.append(Endpoint(id: EndpointID(entry.mapKey), pattern: entry.key, name: shortName(for: entry.key), target: entry.value,
                                      assignment: nil, group: nil, percent: .zero, location: entry.location, targetEntryPath: entry.path,
                                      groupEntryPath: nil, rolledBackFrom: nil))
        }
        var groupLocations: [Int: SourceLocation] = [:]
        for entry in assignments {
            let index: Int
            if let i = byKey[entry.mapKey] {
                if let first = groupLocations[i] {
                    repeated(entry, in: names.splitGroup, first: first)
                    continue
                }
                index = i
            } else {
                index = endpoints.count
                byKey[entry.mapKey] = index
                endpoints.append(Endpoint(id: EndpointID(entry.mapKey), pattern: entry.key, name: shortName(for: entry.key), target: nil,
                                          assignment: nil, group: nil, percent: .zero, location: entry.location, targetEntryPath: nil,
                                          groupEntryPath: nil, rolledBackFrom: nil))
                model.problems.append(Problem(.missingInWhitelist, .error, "endpoint \(entry.key) is in map \(names.splitGroup) but not in map \(names.targetPath), so it is never migrated; add it to the whitelist with its target path or remove it", at: entry.location))
            }
            groupLocations[index] = entry.location
            endpoints[index].assignment = entry.value
            endpoints[index].groupEntryPath = entry.path
            endpoints[index].rolledBackFrom = RollbackMarker.read(entry.leading, key: "group")
        }
        let groupsByVariable = Dictionary(model.groups.map { (MapKey.asciiLowercased($0.variable), $0) }, uniquingKeysWith: { _, last in last })
        for i in endpoints.indices {
            // Fields read in place, not a copy of the endpoint (a copy retains every string and path in it).
            guard let assignment = endpoints[i].assignment else {
                let e = endpoints[i]
                model.problems.append(Problem(.missingInGroupMap, .error, "endpoint \(e.pattern) is in map \(names.targetPath) but not in map \(names.splitGroup); assign it a group (`cutover set \(e.name) --group NAME`)", at: e.location))
                continue
            }
            let routable = endpoints[i].target != nil
            if assignment == names.currentLabel {
                endpoints[i].percent = .zero
            } else if assignment == names.newLabel {
                endpoints[i].percent = routable ? .hundred : .zero
            } else if let group = groupsByVariable[MapKey.asciiLowercased(assignment)] {
                endpoints[i].group = group.variable
                endpoints[i].percent = routable ? group.percent : .zero
            } else {
                let e = endpoints[i]
                let at = e.groupEntryPath.map { p in assignments.first { $0.path == p }?.location } ?? nil
                model.problems.append(Problem(.unknownGroup, .error, "endpoint \(e.pattern) is assigned to \(assignment), which is no split_clients group; create it (`cutover group \(assignment.dropFirst()) --percent P --create`) or pick an existing group", at: at ?? e.location))
            }
        }
        disambiguate(&endpoints)
        model.endpoints = endpoints
    }

    static func checkStructure(_ model: inout RolloutModel, names: RolloutNames, fallback: SourceLocation) {
        if model.whitelistMap == nil {
            model.problems.append(Problem(.patternIncomplete, .error, "no whitelist map found: expected `map $uri \(names.targetPath) { KEY \"/new/path\"; ... }` listing the endpoints ready to move", at: fallback))
        }
        if model.groupMap == nil {
            model.problems.append(Problem(.patternIncomplete, .error, "no group-assignment map found: expected `map $uri \(names.splitGroup) { KEY \"$groupN_routing\"; ... }`", at: fallback))
        }
        if model.flagMap == nil {
            model.problems.append(Problem(.patternIncomplete, .warning, "no migratable flag map found: expected `map \(names.targetPath) \(names.isMigratable) { \"\" 0; default 1; }`", at: fallback))
        }
        if let routing = model.routingMap {
            let values = Dictionary(routing.entries.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            if values["1"] != names.splitGroup || values["0"] != names.currentLabel {
                model.problems.append(Problem(.routingMapUnexpected, .warning, "map \(routing.source) \(routing.variable) should read `0 \"\(names.currentLabel)\"; 1 \(names.splitGroup);`; found \(routing.entries.map { "\($0.key) \($0.value)" }.joined(separator: "; "))", at: routing.location))
            }
        } else {
            model.problems.append(Problem(.patternIncomplete, .warning, "no routing map found: expected `map \(names.isMigratable) \(names.apiRouting) { 0 \"\(names.currentLabel)\"; 1 \(names.splitGroup); }`", at: fallback))
        }
        if model.groups.isEmpty {
            model.problems.append(Problem(.patternIncomplete, .warning, "no split_clients group found: expected `split_clients \"${request_id}\" $group1_routing { 10% \"\(names.newLabel)\"; * \"\(names.currentLabel)\"; }`", at: fallback))
        }
        if model.routingLocation == nil {
            model.problems.append(Problem(.patternIncomplete, .warning, "no location routes \(names.apiRouting) = \"\(names.newLabel)\" into an internal location: expected `if (\(names.apiRouting) = \"\(names.newLabel)\") { ... rewrite ^ /internal_new_service_proxy last; }`", at: fallback))
        } else if model.internalLocationSource == nil, let uri = model.internalLocation {
            model.problems.append(Problem(.internalLocationMissing, .warning, "the routing rewrites to \(uri) but no `location = \(uri)` exists", at: model.routingLocation ?? fallback))
        } else if model.migrationLog == nil {
            model.problems.append(Problem(.migrationLogMissing, .warning, "the internal location has no access_log of its own, so there is no migration log to read; add `access_log /var/log/nginx/migration_traffic.log;` there", at: model.internalLocationSource ?? fallback))
        }
    }
}

