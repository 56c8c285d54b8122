import NginxConfig

/// A routing change an operator asks for.
public enum RolloutEdit: Sendable, Equatable {
    /// Moves an endpoint into an existing group.
    case assign(endpoint: String, group: String)
    /// Moves an endpoint into a group at `percent`, creating one if none has it.
    case assignPercent(endpoint: String, percent: Percent)
    /// Sets a group's share of the new service (0 to 100%).
    case setGroupPercent(group: String, percent: Percent, create: Bool)
    /// Adds an endpoint to the whitelist and the group map.
    case add(key: String, target: String, group: String)
    /// Removes an endpoint from the migration list (both maps).
    case remove(endpoint: String)
    /// Sends the listed endpoints back to the current service, remembering their groups for `resume`.
    case rollback(endpoints: [String])
    /// Sets every group to 0% (and every endpoint sent straight to the new service back), remembering it all for `resume`.
    case rollbackAll
    /// Restores exactly what the last rollbacks remembered.
    case resume

    /// The action's name in the journal and messages.
    public var action: String {
        switch self {
        case .assign, .assignPercent: return "set"
        case .setGroupPercent: return "group"
        case .add: return "add"
        case .remove: return "remove"
        case .rollback: return "rollback"
        case .rollbackAll: return "rollback-all"
        case .resume: return "resume"
        }
    }
}

/// Why an edit was refused; the config is untouched.
public struct EditError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One endpoint's share before and after an edit.
public struct EndpointShift: Sendable, Equatable, Codable {
    public var endpoint: String
    public var groupBefore: String?
    public var groupAfter: String?
    public var percentBefore: Percent
    public var percentAfter: Percent
    /// The endpoint's identity (`endpoint` is its short name, for display).
    public var id: EndpointID?

    /// Creates a shift.
    public init(endpoint: String, groupBefore: String?, groupAfter: String?, percentBefore: Percent, percentAfter: Percent,
                id: EndpointID? = nil) {
        self.endpoint = endpoint
        self.groupBefore = groupBefore
        self.groupAfter = groupAfter
        self.percentBefore = percentBefore
        self.percentAfter = percentAfter
        self.id = id
    }
}

/// The result of an edit: the new tree and model, the file changes, and what moved.
public struct EditResult: Sendable {
    public var config: ConfigSet
    public var model: RolloutModel
    public var changes: [FileChange]
    /// Every endpoint whose group or percent changed.
    public var shifts: [EndpointShift]
    /// The groups whose entries changed or that were created.
    public var groupsTouched: [String]
    public var edit: RolloutEdit

    /// A one-line description of what the edit does, for prompts and reports.
    public var summary: String {
        if shifts.isEmpty { return "\(edit.action): no endpoint's share changes" }
        let parts = shifts.prefix(6).map { s in
            "\(s.endpoint) \(s.percentBefore.nginxText) → \(s.percentAfter.nginxText)"
                + (s.groupBefore != s.groupAfter ? " (\(s.groupBefore ?? "-") → \(s.groupAfter ?? "-"))" : "")
        }
        let more = shifts.count > 6 ? ", and \(shifts.count - 6) more" : ""
        return "\(edit.action): " + parts.joined(separator: ", ") + more
    }
}

extension RolloutModel {
    /// Finds an endpoint by short name, key, or a unique substring of its key; ambiguity lists the candidates.
    public func resolveEndpoint(_ query: String) throws(EditError) -> Endpoint {
        if let e = endpoints.first(where: { $0.pattern == query }) { return e }
        let id = EndpointID(raw: query)
        if let e = endpoints.first(where: { $0.id == id }) { return e }
        let byName = endpoints.filter { $0.name == query }
        if byName.count == 1 { return byName[0] }
        let candidates = byName.isEmpty ? endpoints.filter { $0.pattern.contains(query) || $0.name.contains(query) } : byName
        if candidates.count == 1 { return candidates[0] }
        if candidates.isEmpty {
            throw EditError("no endpoint matches \"\(query)\"; `cutover routes` lists them (name or any unique part of the key)")
        }
        throw EditError("\"\(query)\" is ambiguous; it matches: " + candidates.map { "\($0.name) (\($0.pattern))" }.joined(separator: ", ") + " — give more of the key")
    }

    /// Finds a group by name (`group3_routing`) or variable (`$group3_routing`).
    public func resolveGroup(_ query: String) throws(EditError) -> Group {
        if let g = group(named: query) { return g }
        throw EditError("no group \"\(query)\"; groups: " + groups.map(\.name).joined(separator: ", ")
            + " (create one with `cutover group NAME --percent P --create`)")
    }
}

/// Applies rollout edits to a config tree: pure, touching only the tokens each edit must.
public struct RolloutEditor: Sendable {
    public var config: ConfigSet
    /// The model of `config` (inside an edit, rediscovered lazily by `sync()` after each tree change).
    public private(set) var model: RolloutModel
    private var stale = false

    public init(config: ConfigSet, model: RolloutModel) {
        self.config = config
        self.model = model
    }

    /// Loads the config and discovers the model in one step.
    public init(config: ConfigSet, names: RolloutNames = RolloutNames()) {
        self.config = config
        self.model = Discovery.discover(config, names: names)
    }

    private var names: RolloutNames { model.names }

    /// Applies `edit` and checks the result with nginx's rules; throws without changing anything if it is refused.
    public func apply(_ edit: RolloutEdit) throws(EditError) -> EditResult {
        var work = self
        var touched: [String] = []
        // Set when the edit changed one group's block only: the model is then read again for that group alone.
        var onlyGroup: String?
        switch edit {
        case .assign(let query, let groupName):
            let endpoint = try model.resolveEndpoint(query)
            let group = try model.resolveGroup(groupName)
            try work.assign(endpoint, to: group.variable)
        case .assignPercent(let query, let percent):
            let endpoint = try model.resolveEndpoint(query)
            try RolloutEditor.checkRange(percent)
            if let group = model.groups.first(where: { $0.percent == percent && $0.rolledBackFrom == nil }) {
                try work.assign(endpoint, to: group.variable)
            } else {
                let variable = work.nextGroupVariable()
                try work.createGroup(variable, percent: percent)
                work.sync()
                try work.assign(work.model.resolveEndpoint(endpoint.pattern), to: variable)
                touched.append(String(variable.dropFirst()))
            }
        case .setGroupPercent(let groupName, let percent, let create):
            try RolloutEditor.checkRange(percent)
            if let group = model.group(named: groupName) {
                try work.setPercent(group, percent, marker: nil)
                onlyGroup = group.variable
            } else if create {
                let variable = groupName.hasPrefix("$") ? groupName : "$" + groupName
                try work.checkNewGroupName(variable)
                try work.createGroup(variable, percent: percent)
            } else {
                _ = try model.resolveGroup(groupName)
            }
            touched.append(groupName.hasPrefix("$") ? String(groupName.dropFirst()) : groupName)
        case .add(let key, let target, let groupName):
            let group = try model.resolveGroup(groupName)
            try work.add(key: key, target: target, group: group.variable)
        case .remove(let query):
            let endpoint = try model.resolveEndpoint(query)
            try work.remove(endpoint)
        case .rollback(let queries):
            guard !queries.isEmpty else { throw EditError("name at least one endpoint to roll back, or use --all") }
            for q in queries {
                work.sync()
                let endpoint = try work.model.resolveEndpoint(q)
                try work.rollback(endpoint)
            }
        case .rollbackAll:
            try work.rollbackAll()
        case .resume:
            try work.resume()
        }
        return try finish(work, edit: edit, touched: touched, onlyGroup: onlyGroup)
    }

    private func finish(_ work: RolloutEditor, edit: RolloutEdit, touched: [String], onlyGroup: String? = nil) throws(EditError) -> EditResult {
        let newModel: RolloutModel
        if let onlyGroup, let regrouped = Discovery.regroup(model, before: config, after: work.config, variable: onlyGroup, names: names) {
            // Debug builds (the tests) check every such shortcut against the whole discovery.
            assert(regrouped == Discovery.discover(work.config, names: names), "the model read again for \(onlyGroup) alone differs from the whole discovery")
            newModel = regrouped
        } else {
            newModel = Discovery.discover(work.config, names: names)
        }
        // Refuse anything that introduces a problem nginx (or the pattern) cannot live with: more errors of a
        // kind than before (messages may name lines that the edit moved, so they are not compared).
        var counts: [ProblemKind: Int] = [:]
        for p in model.problems where p.severity == .error { counts[p.kind, default: 0] += 1 }
        let before = Set(model.problems.filter { $0.severity == .error }.map(\.message))
        for p in newModel.problems where p.severity == .error { counts[p.kind, default: 0] -= 1 }
        if let kind = counts.first(where: { $0.value < 0 })?.key {
            let candidates = newModel.problems.filter { $0.kind == kind && $0.severity == .error }
            let first = candidates.first { !before.contains($0.message) } ?? candidates[0]
            throw EditError("refused: the edit would make the config invalid — \(first.location): \(first.message)")
        }
        var shifts: [EndpointShift] = []
        var old: [String: Int] = [:]
        old.reserveCapacity(model.endpoints.count)
        for i in model.endpoints.indices where old[model.endpoints[i].pattern] == nil { old[model.endpoints[i].pattern] = i }
        for index in newModel.endpoints.indices {
            // Unchanged endpoints (most of them) are compared in place, without copying either side.
            if let i = old[newModel.endpoints[index].pattern], model.endpoints[i].assignment == newModel.endpoints[index].assignment,
               model.endpoints[i].percent == newModel.endpoints[index].percent { continue }
            let e = newModel.endpoints[index]
            guard let i = old[e.pattern] else {
                shifts.append(EndpointShift(endpoint: e.name, groupBefore: nil, groupAfter: e.groupName ?? e.assignment, percentBefore: .zero, percentAfter: e.percent, id: e.id))
                continue
            }
            let was = model.endpoints[i]
            if was.assignment != e.assignment || was.percent != e.percent {
                shifts.append(EndpointShift(endpoint: e.name, groupBefore: was.groupName ?? was.assignment, groupAfter: e.groupName ?? e.assignment,
                                            percentBefore: was.percent, percentAfter: e.percent, id: e.id))
            }
        }
        let newKeys = Set(newModel.endpoints.map(\.pattern))
        for e in model.endpoints where !newKeys.contains(e.pattern) {
            shifts.append(EndpointShift(endpoint: e.name, groupBefore: e.groupName ?? e.assignment, groupAfter: nil, percentBefore: e.percent, percentAfter: .zero, id: e.id))
        }
        var groups = touched
        let oldGroups = Dictionary(model.groups.map { ($0.variable, $0) }, uniquingKeysWith: { a, _ in a })
        for g in newModel.groups where oldGroups[g.variable] == nil || oldGroups[g.variable]?.entries != g.entries || oldGroups[g.variable]?.rolledBackFrom != g.rolledBackFrom {
            if !groups.contains(g.name) { groups.append(g.name) }
        }
        return EditResult(config: work.config, model: newModel, changes: work.config.changes(), shifts: shifts,
                          groupsTouched: groups, edit: edit)
    }

    static func checkRange(_ p: Percent) throws(EditError) {
        guard p.hundredths >= 0 && p.hundredths <= 10000 else {
            throw EditError("percent \(p.plain) is out of range; give a value from 0 to 100 with at most two decimals")
        }
    }

    // MARK: - Primitive edits (each re-discovers so later steps see the new tree)

    /// Marks the model stale after a tree edit; the next `sync()` rediscovers it.
    private mutating func refresh() {
        stale = true
    }

    /// Rediscovers the model if the tree changed since it was built.
    private mutating func sync() {
        if stale {
            model = Discovery.discover(config, names: names)
            stale = false
        }
    }

    /// Writes a word in the quoting style of the word it replaces.
    static func styled(_ value: String, like old: Word) -> String {
        if let q = old.quoteCharacter { return Word.quote(value, force: true, quote: q) }
        return Word.quote(value)
    }

    mutating func assign(_ endpoint: Endpoint, to assignment: String, marker: String? = nil) throws(EditError) {
        if let path = endpoint.groupEntryPath {
            config.modify(at: path) { d in
                if d.args.isEmpty {
                    d.args.append(Word(raw: Word.quote(assignment, force: true)))
                } else {
                    d.args[0].raw = RolloutEditor.styled(assignment, like: d.args[0])
                }
                d.name.prefix = Markers.remove(from: d.name.prefix)
                if let marker { d.name.prefix = Markers.add(marker, to: d.name.prefix) }
            }
        } else {
            guard let map = model.groupMap else {
                throw EditError("there is no `map $uri \(names.splitGroup)` to assign \(endpoint.name) in; add the group map first")
            }
            let entry = try RolloutEditor.mapEntry(key: endpoint.pattern, value: assignment, like: map.entries.last.flatMap { config.directive(at: $0.path) })
            appendEntry(entry, to: map)
        }
        refresh()
    }

    static func mapEntry(key: String, value: String, like sample: Directive?) throws(EditError) -> Directive {
        let keyText = Word.quote(key)
        let valueText: String
        if let sample, let word = sample.args.first { valueText = styled(value, like: word) } else { valueText = Word.quote(value, force: true) }
        do {
            return try parseDirective("\(keyText) \(valueText);")
        } catch {
            throw EditError("cannot write the map entry for \(key): \(error.message)")
        }
    }

    private mutating func appendEntry(_ entry: Directive, to map: MapBlock) {
        // After the map's last entry, in whichever file holds it (an `include` inside the block may).
        if let last = map.entries.last {
            config.editList(containing: last.path) { list, i in list.insert(entry, after: i) }
            return
        }
        let mapDirective = config.directive(at: map.path)
        let indent = (mapDirective.flatMap { Trivia.splitLastBreak($0.name.prefix)?.after } ?? "") + "    "
        config.modifyBlock(at: map.path) { block in
            block.edit { list in
                if let last = list.children.lastIndex(where: { $0.name.value != "default" && $0.name.value != "hostnames" && $0.name.value != "volatile" }) {
                    list.insert(entry, after: last)
                } else {
                    list.append(entry, indent: indent)
                }
            }
        }
    }

    /// Sets the group's effective new-service share to exactly `percent`, however the block is written.
    ///
    /// A block with one new-service bucket (or none) that can take the new percent keeps its layout and only
    /// that bucket changes; any other block (several new-service buckets, `*` yielding the new service, totals
    /// that would pass 100%) is rewritten to the canonical `P% "new"; * "current";`, its comments kept.
    mutating func setPercent(_ group: Group, _ percent: Percent, marker: String?) throws(EditError) {
        let label = names.newLabel, current = names.currentLabel
        let live = group.entries[group.liveEntries]
        let newBuckets = live.filter { $0.value == label }
        let othersSum = live.filter { $0.value != label }.compactMap(\.percent?.hundredths).reduce(0, +)
        let block = config.directive(at: group.path)?.block
        let labelSample = block?.children.first?.args.first
        let styledNew = labelSample.map { RolloutEditor.styled(label, like: $0) } ?? Word.quote(label, force: true)
        let styledCurrent = labelSample.map { RolloutEditor.styled(current, like: $0) } ?? Word.quote(current, force: true)
        enum Plan { case keep, retune(Int), remove(Int), insertFirst, canonical }
        var plan = Plan.canonical
        if newBuckets.count == 1, let only = newBuckets.first, only.percent != nil {
            if percent.hundredths == 0 { plan = .remove(only.childIndex) }
            else if othersSum + percent.hundredths <= 10000 { plan = .retune(only.childIndex) }
        } else if newBuckets.isEmpty {
            if percent.hundredths == 0 { plan = .keep }
            else if othersSum + percent.hundredths <= 10000 && !(block?.children.isEmpty ?? true) { plan = .insertFirst }
        }
        let newEntry: Directive?
        do { newEntry = percent.hundredths > 0 ? try parseDirective("\(percent.nginxText) \(styledNew);") : nil } catch {
            throw EditError("cannot write the bucket for \(group.variable): \(error.message)")
        }
        let star: Directive
        do { star = try parseDirective("* \(styledCurrent);") } catch { throw EditError("cannot write the `*` line: \(error.message)") }
        config.modifyBlock(at: group.path) { block in
            switch plan {
            case .keep:
                break
            case .retune(let i):
                guard i >= 0, i < block.children.count else { return }
                block.children[i].name.raw = percent.nginxText
            case .remove(let i):
                guard i >= 0, i < block.children.count else { return }
                block.edit { list in list.remove(at: i) }
            case .insertFirst:
                guard let newEntry else { return }
                block.edit { list in list.insert(newEntry, before: 0) }
            case .canonical:
                block = RolloutEditor.canonicalBlock(block, first: newEntry, star: star)
            }
        }
        config.modify(at: group.path) { d in
            d.name.prefix = Markers.remove(from: d.name.prefix)
            if let marker { d.name.prefix = Markers.add(marker, to: d.name.prefix) }
        }
        // The edit is defined on nginx's semantics: check it yields exactly the share asked for.
        var problems: [Problem] = []
        if let d = config.directive(at: group.path),
           let g = Discovery.readGroup(LocatedDirective(directive: d, path: group.path, ancestors: []), names: names, problems: &problems),
           g.percent != percent {
            throw EditError("cannot set \(group.variable) to \(percent.nginxText): the block would route \(g.percent.nginxText); rewrite it by hand as `\(percent.nginxText) \(styledNew); * \(styledCurrent);`")
        }
        refresh()
    }

    /// `block` as `first` (if any) then `star`, keeping the first line's leading trivia, every comment of the
    /// other lines (each on its own line before `*`) and the text before `}`.
    static func canonicalBlock(_ block: Block, first: Directive?, star: Directive) -> Block {
        var out = block
        let lead = block.children.first?.name.prefix ?? (Trivia.splitLastBreak(block.trailing) != nil ? "\n    " : " ")
        let split = Trivia.splitLastBreak(lead)
        let nl = split?.lineBreak, indent = split?.after ?? ""
        var comments: [String] = []
        for child in block.children.dropFirst() {
            for line in Trivia.lines(child.name.prefix) {
                let t = Trivia.trimmed(line)
                if t.hasPrefix("#") { comments.append(t) }
            }
        }
        var children: [Directive] = []
        if var first {
            first.name.prefix = lead
            children.append(first)
        }
        var s = star
        let commentText = nl.map { nl in comments.map { $0 + nl + indent }.joined() } ?? ""
        if children.isEmpty {
            s.name.prefix = lead + commentText
        } else {
            s.name.prefix = nl.map { $0 + indent + commentText } ?? " "
        }
        children.append(s)
        out.children = children
        if block.children.isEmpty, let nl {
            out.trailing = nl + (Trivia.splitLastBreak(block.trailing)?.after ?? "")
        }
        return out
    }

    /// Refuses a group name nginx would misread or that would shadow a variable: ASCII letters, digits and `_`
    /// only, not a built-in or prefix variable, not a variable the config already defines.
    func checkNewGroupName(_ variable: String) throws(EditError) {
        let name = String(variable.dropFirst())
        guard variable.hasPrefix("$"), NginxVariables.isValidName(name) else {
            throw EditError("\"\(name)\" is not a valid nginx variable name: nginx reads only ASCII letters, digits and `_` in a name (\"\(name)\" would be read as \"\(String(name.prefix { NginxVariables.isValidName(String($0)) }))\"); pick a name such as group7_routing")
        }
        if NginxVariables.isProvided(name) {
            throw EditError("$\(name) is one of nginx's own variables; a group of that name would clash with it — pick a name such as group7_routing")
        }
        if model.variableExists(name) {
            throw EditError("$\(name) is already defined in the config (by a map, split_clients, geo, set or a named capture); a group of that name would override it — pick another name")
        }
    }

    func nextGroupVariable() -> String {
        let taken = Set(model.groups.map { MapKey.asciiLowercased($0.variable) })
        var n = model.groups.count + 1
        // Never a name another group, a map or any other definition already holds.
        while taken.contains("$group\(n)_routing") || model.variableExists("group\(n)_routing") { n += 1 }
        return "$group\(n)_routing"
    }

    mutating func createGroup(_ variable: String, percent: Percent) throws(EditError) {
        if model.group(named: variable) != nil { throw EditError("group \(variable) already exists") }
        let key = model.groups.last?.key ?? "${request_id}"
        let last = model.groups.last.flatMap { config.directive(at: $0.path) }
        let multiLine = last?.block?.children.first.map { Trivia.splitLastBreak($0.name.prefix) != nil } ?? true
        let newValue = Word.quote(names.newLabel, force: true), currentValue = Word.quote(names.currentLabel, force: true)
        let first = percent.hundredths > 0 ? "\(percent.nginxText) \(newValue); " : ""
        var text = "split_clients \(Word.quote(key, force: true)) \(variable) { \(first)* \(currentValue); }"
        if multiLine {
            let outer = last.flatMap { Trivia.splitLastBreak($0.name.prefix)?.after } ?? ""
            let inner = last?.block?.children.first.flatMap { Trivia.splitLastBreak($0.name.prefix)?.after } ?? outer + "    "
            let lines = (percent.hundredths > 0 ? ["\(percent.nginxText) \(newValue);"] : []) + ["* \(currentValue);"]
            // The file's own line breaks (a CRLF file gets CRLF lines).
            let anchorFile = model.groups.last?.path.file ?? model.groupMap?.path.file
            let nl = anchorFile.flatMap { config.text(of: $0) }.map { $0.contains("\r\n") ? "\r\n" : "\n" } ?? "\n"
            text = "split_clients \(Word.quote(key, force: true)) \(variable) {" + nl + lines.map { inner + $0 + nl }.joined() + outer + "}"
        }
        let directive: Directive
        do { directive = try parseDirective(text) } catch { throw EditError("cannot write group \(variable): \(error.message)") }
        if let anchor = model.groups.last?.path {
            config.editList(containing: anchor) { list, i in list.insert(directive, after: i) }
        } else if let map = model.groupMap {
            config.editList(containing: map.path) { list, i in list.insert(directive, before: i) }
        } else {
            throw EditError("no split_clients group and no group map to place a new group next to; add the pattern's maps first")
        }
        refresh()
    }

    mutating func add(key: String, target: String, group: String) throws(EditError) {
        try RolloutEditor.checkNewKey(key, target: target, in: model)
        guard let whitelist = model.whitelistMap, model.groupMap != nil else {
            throw EditError("the config lacks the whitelist map or the group map; add the pattern's maps before adding endpoints")
        }
        let w = try RolloutEditor.mapEntry(key: key, value: target, like: whitelist.entries.last.flatMap { config.directive(at: $0.path) })
        appendEntry(w, to: whitelist)
        refresh()
        sync()
        guard let groupMapNow = model.groupMap else { return }
        let g = try RolloutEditor.mapEntry(key: key, value: group, like: groupMapNow.entries.last.flatMap { config.directive(at: $0.path) })
        appendEntry(g, to: groupMapNow)
        refresh()
    }

    /// The checks nginx applies to a new map line, made before anything is written: no map parameter as a key,
    /// no key nginx already has (exact keys compare case-insensitively), a regex PCRE2 compiles, a target whose
    /// variables exist.
    static func checkNewKey(_ key: String, target: String, in model: RolloutModel) throws(EditError) {
        let mapKey = MapKey(raw: key)
        if mapKey.isSpecialParameter {
            throw EditError("`\(key)` is a map parameter, not an endpoint key: in a map `\(key)` \(key == "include" ? "includes a file" : key == "default" ? "sets the value of every unlisted URI (so every path would migrate)" : "is a flag"); give the endpoint's path or a regex (`~^/v2/...$`)")
        }
        guard !key.isEmpty else { throw EditError("give the endpoint's key: its path or a regex (`~^/v2/...$`)") }
        if let existing = model.endpoints.first(where: { $0.id.key == mapKey }) {
            let why = existing.pattern == key ? "" : " (nginx compares exact keys case-insensitively, so it is the same key as `\(existing.pattern)`)"
            throw EditError("endpoint \(key) is already in the migration list\(why); use `cutover set` to change its group")
        }
        if let error = RegexCheck.error(for: mapKey) {
            throw EditError("the key \(key) does not compile: pcre2_compile() failed: \(error); nginx would reject it — fix the regular expression")
        }
        switch NginxVariables.references(in: target) {
        case .failure(let error):
            throw EditError("the target \(target) is not a value nginx accepts: \(error.message); escape a literal `$` or fix the variable")
        case .success(let refs):
            let captures = Set(mapKey.captures.compactMap(\.name).map(MapKey.asciiLowercased))
            for ref in refs {
                switch ref {
                case .variable(let name):
                    if !model.variableExists(name) && !captures.contains(MapKey.asciiLowercased(name)) {
                        throw EditError("the target \(target) names $\(name), which is no variable nginx or the config defines; nginx would fail with `unknown \"\(name)\" variable` — use a capture ($1) or an existing variable")
                    }
                case .capture(let n):
                    if mapKey.isRegex && n > mapKey.captures.count {
                        throw EditError("the target \(target) uses $\(n) but the key \(key) has \(mapKey.captures.count) capture group\(mapKey.captures.count == 1 ? "" : "s"); add the group or fix the number")
                    }
                }
            }
        }
    }

    mutating func remove(_ endpoint: Endpoint) throws(EditError) {
        // Remove the later entry first so the earlier path stays valid when both maps share a file.
        let paths = [endpoint.targetEntryPath, endpoint.groupEntryPath].compactMap { $0 }
        for path in paths.sorted(by: { $0.indices.lexicographicallyPrecedes($1.indices) }).reversed() {
            config.modify(at: path) { d in d.name.prefix = Markers.remove(from: d.name.prefix) }
            config.editList(containing: path) { list, i in list.remove(at: i) }
        }
        refresh()
    }

    mutating func rollback(_ endpoint: Endpoint) throws(EditError) {
        guard let assignment = endpoint.assignment else {
            throw EditError("\(endpoint.name) has no group assignment, so it already stays on the current service")
        }
        if assignment == names.currentLabel {
            throw EditError("\(endpoint.name) is already rolled back (assigned to \"\(names.currentLabel)\"); `cutover resume` restores it")
        }
        try assign(endpoint, to: names.currentLabel, marker: "group=\(assignment)")
    }

    /// Every group to 0% and every endpoint sent straight to the new service back, with markers for `resume`.
    /// Each step edits only inside one group block or one map entry, so the addresses of the others stay valid
    /// and the model is rediscovered once, at the end.
    mutating func rollbackAll() throws(EditError) {
        let groups = model.groups.filter { $0.percent.hundredths > 0 }
        let direct = model.endpoints.filter { $0.assignment == names.newLabel }
        guard !groups.isEmpty || !direct.isEmpty else { throw EditError("nothing to roll back: every group is already at 0%") }
        for group in groups {
            try rollBack(group)
        }
        for endpoint in direct {
            try assign(endpoint, to: names.currentLabel, marker: "group=\(names.newLabel)")
        }
    }

    /// Sends a group's whole share back, exactly reversibly: a canonical block (`P% "new"` first, the only
    /// new-service bucket) loses that line; any other layout keeps its buckets and every bucket that yields the
    /// new service (the `*` included) yields the current service instead, the marker listing which (`flip=`),
    /// so `resume` restores the very same buckets and clients.
    mutating func rollBack(_ group: Group) throws(EditError) {
        let live = group.entries[group.liveEntries]
        let newBuckets = live.filter { $0.value == names.newLabel }
        let block = config.directive(at: group.path)?.block
        let canonicalFirst: Bool = {
            guard newBuckets.count == 1, let only = newBuckets.first, only.childIndex == 0, let p = only.percent,
                  let child = block?.children.first, let word = child.args.first else { return false }
            return child.name.raw == p.nginxText && word.prefix == " " && word.raw == RolloutEditor.styled(names.newLabel, like: word)
                && child.beforeTerminator.isEmpty
        }()
        if canonicalFirst {
            try setPercent(group, .zero, marker: "percent=\(group.percent.plain)")
            return
        }
        let flips = newBuckets.map(\.childIndex).filter { $0 >= 0 }
        let current = names.currentLabel
        config.modifyBlock(at: group.path) { block in
            for i in flips where i < block.children.count {
                if let word = block.children[i].args.first {
                    block.children[i].args[0].raw = RolloutEditor.styled(current, like: word)
                }
            }
        }
        config.modify(at: group.path) { d in
            d.name.prefix = Markers.add("percent=\(group.percent.plain) flip=\(flips.map(String.init).joined(separator: ","))",
                                        to: Markers.remove(from: d.name.prefix))
        }
        refresh()
    }

    /// Undoes `rollBack`: flipped buckets yield the new service again; a removed bucket comes back.
    mutating func resumeGroup(_ group: Group, percent: Percent) throws(EditError) {
        guard let flips = group.rollbackFlips, !flips.isEmpty else {
            try setPercent(group, percent, marker: nil)
            return
        }
        let label = names.newLabel, current = names.currentLabel
        let children = config.directive(at: group.path)?.block?.children ?? []
        let intact = flips.allSatisfy { $0 < children.count && children[$0].args.first?.value == current }
        guard intact else {
            try setPercent(group, percent, marker: nil)
            return
        }
        config.modifyBlock(at: group.path) { block in
            for i in flips {
                if let word = block.children[i].args.first {
                    block.children[i].args[0].raw = RolloutEditor.styled(label, like: word)
                }
            }
        }
        config.modify(at: group.path) { d in d.name.prefix = Markers.remove(from: d.name.prefix) }
        refresh()
    }

    /// Restores what the rollback markers remember, in one pass (see `rollbackAll`).
    mutating func resume() throws(EditError) {
        let groups = model.groups.filter { $0.rolledBackFrom != nil }
        let endpoints = model.endpoints.filter { $0.rolledBackFrom != nil }
        guard !groups.isEmpty || !endpoints.isEmpty else {
            throw EditError("nothing to resume: no rollback markers (`# cutover:rollback`) are in the config")
        }
        for group in groups {
            if let p = group.rolledBackFrom { try resumeGroup(group, percent: p) }
        }
        for endpoint in endpoints {
            if let g = endpoint.rolledBackFrom { try assign(endpoint, to: g) }
        }
    }
}

/// Writes and removes Cutover's rollback marker comments in a directive's leading trivia.
enum Markers {
    static func add(_ payload: String, to prefix: String) -> String {
        guard let split = Trivia.splitLastBreak(prefix) else {
            return prefix + RollbackMarker.tag + payload + " (cutover resume restores it)\n"
        }
        return prefix + RollbackMarker.tag + payload + " (cutover resume restores it)" + split.lineBreak + split.after
    }

    static func remove(from prefix: String) -> String {
        guard prefix.contains(RollbackMarker.tag) else { return prefix }
        var lines = Trivia.lines(prefix)
        lines.removeAll { Trivia.trimmed($0).hasPrefix(RollbackMarker.tag) }
        return lines.joined(separator: "\n")
    }
}
