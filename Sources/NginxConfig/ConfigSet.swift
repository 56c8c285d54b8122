#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads config files and expands include globs; the real one reads the disk, tests may supply another.
public protocol ConfigFileStore: Sendable {
    /// The text of the file at `path`.
    func read(_ path: String) throws -> String
    /// The paths matching an nginx include pattern (`*`, `?`, `[`), sorted as nginx's glob returns them.
    func glob(_ pattern: String) -> [String]
}

/// Reads config files from the local disk.
public struct LocalFileStore: ConfigFileStore {
    /// The largest config file Cutover reads (real configs are kilobytes; `/dev/zero` never ends).
    public static let maxFileBytes = 32 << 20

    public init() {}

    /// The file's bytes as lossless text (`ConfigText`), refusing anything larger than `maxFileBytes` and
    /// anything that is no regular file: a FIFO would block the read for ever, a directory reads as nothing,
    /// a device such as `/dev/zero` never ends. The open is non-blocking, so a FIFO is refused at once.
    public func read(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw ConfigLoadError.unreadable(path: path, reason: ConfigSet.errnoText())
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw ConfigLoadError.unreadable(path: path, reason: ConfigSet.errnoText())
        }
        if let kind = LocalFileStore.kind(ofMode: st.st_mode) {
            throw ConfigLoadError.unreadable(path: path, reason: "it is \(kind), not a config file (nginx reads only regular "
                                             + "files); point the include or --config at the config file itself")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfigLoadError.unreadable(path: path, reason: ConfigSet.errnoText())
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > LocalFileStore.maxFileBytes {
                throw ConfigLoadError.tooLarge(path: path, limit: LocalFileStore.maxFileBytes)
            }
        }
        return ConfigText.decode(bytes)
    }

    /// What a file of `mode` is when it is no regular file ("a FIFO (named pipe)", "a directory", ...); nil
    /// for a regular file.
    public static func kind(ofMode mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }

    public func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p)), as: UTF8.self)) }
        }
        return out
    }
}

/// Why a config could not be loaded.
public enum ConfigLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case notUTF8(path: String)
    case tooLarge(path: String, limit: Int)
    case syntax(ConfigSyntaxError)
    case includeCycle(file: String, line: Int, target: String)
    case includeMissing(file: String, line: Int, target: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason); check the path (--config or `config:` in cutover.yaml) and permissions"
        case .notUTF8(let path):
            return "\(path) is not valid UTF-8; Cutover edits files byte for byte and cannot do so safely here — convert the file to UTF-8"
        case .tooLarge(let path, let limit):
            return "\(path) is larger than \(limit >> 20) MiB, which no nginx config is; check the path (--config or `config:` in cutover.yaml)"
        case .syntax(let e):
            return e.description
        case .includeCycle(let file, let line, let target):
            return "\(file):\(line): include of \(target) forms a cycle; remove the recursive include"
        case .includeMissing(let file, let line, let target, let reason):
            return "\(file):\(line): cannot read included file \(target): \(reason); fix the include or pass --prefix so relative paths resolve"
        }
    }
}

/// Addresses one directive: the file that holds it and the child indices from the file's top level down.
public struct DirectivePath: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var indices: [Int]

    public init(file: String, indices: [Int]) {
        self.file = file
        self.indices = indices
    }

    public var description: String { "\(file)#\(indices.map(String.init).joined(separator: "."))" }
}

/// A directive found by a walk, with where it is and the names of the blocks around it (outermost first).
public struct LocatedDirective: Sendable {
    public var directive: Directive
    public var path: DirectivePath
    /// The enclosing block directives, outermost first, across include boundaries (e.g. http, server, location).
    public var ancestors: [Directive]

    /// The file holding the directive.
    public var file: String { path.file }
    /// The 1-based line of the directive.
    public var line: Int { directive.line }

    /// A directive found at `path` inside `ancestors`.
    public init(directive: Directive, path: DirectivePath, ancestors: [Directive]) {
        self.directive = directive
        self.path = path
        self.ancestors = ancestors
    }
}

/// A config as nginx reads it: the main file and every file it includes, each kept as a lossless tree.
public struct ConfigSet: Sendable {
    /// The file Cutover was pointed at.
    public private(set) var mainPath: String
    /// The directory relative include paths resolve against (nginx's conf prefix).
    public private(set) var prefix: String
    /// Every loaded file by absolute path.
    public private(set) var files: [String: ConfigFile]
    /// Files in the order they were first read.
    public private(set) var order: [String]
    /// The original text of every loaded file, to detect edits and compute diffs.
    public private(set) var originals: [String: String]
    /// The files each include directive expanded to, keyed by the include's address.
    public private(set) var includes: [DirectivePath: [String]]
    /// nginx's own prefix (`-p`, else the compiled-in `--prefix` of `nginx -V`), which relative paths such as
    /// `access_log logs/api.log` resolve against; nil when unknown (such paths then stay relative).
    public var nginxPrefix: String?

    /// `path` as nginx opens it: absolute paths as they are, relative ones under `nginxPrefix`
    /// (`ngx_conf_full_name`); nil when it is relative and the prefix is unknown.
    public func resolvedPath(_ path: String) -> String? {
        if path.hasPrefix("/") { return path }
        guard let base = nginxPrefix else { return nil }
        return ConfigSet.normalize(ConfigSet.absolute(base) + "/" + path)
    }

    /// Loads `path` and, recursively, what it includes; relative includes resolve against `prefix`
    /// (by default the directory of `path`, which is nginx's conf prefix when `path` is nginx.conf).
    public static func load(path: String, prefix: String? = nil, store: ConfigFileStore = LocalFileStore()) throws(ConfigLoadError) -> ConfigSet {
        let absolute = ConfigSet.absolute(path)
        let base = prefix.map(ConfigSet.absolute) ?? ConfigSet.directory(of: absolute)
        var set = ConfigSet(mainPath: absolute, prefix: base, files: [:], order: [], originals: [:], includes: [:])
        try set.loadFile(absolute, store: store, stack: [])
        return set
    }

    /// Builds a set from in-memory texts (the first is the main file); includes are not followed.
    public static func fromTexts(_ texts: [(path: String, text: String)]) throws(ConfigLoadError) -> ConfigSet {
        var set = ConfigSet(mainPath: texts.first?.path ?? "", prefix: "/", files: [:], order: [], originals: [:], includes: [:])
        for (path, text) in texts {
            do {
                set.files[path] = try ConfigParser.parse(text, path: path)
            } catch {
                throw .syntax(error)
            }
            set.originals[path] = text
            set.order.append(path)
        }
        return set
    }

    private mutating func loadFile(_ path: String, store: ConfigFileStore, stack: [String]) throws(ConfigLoadError) {
        if files[path] != nil { return }
        let text: String
        do {
            text = try store.read(path)
        } catch let e as ConfigLoadError {
            throw e
        } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
        let tree: ConfigFile
        do {
            tree = try ConfigParser.parse(text, path: path)
        } catch {
            throw .syntax(error)
        }
        files[path] = tree
        originals[path] = text
        order.append(path)
        try followIncludes(in: tree.children, file: path, indices: [], store: store, stack: stack + [path])
    }

    private mutating func followIncludes(in children: [Directive], file: String, indices: [Int], store: ConfigFileStore, stack: [String]) throws(ConfigLoadError) {
        for (i, d) in children.enumerated() {
            let here = indices + [i]
            if d.name.value == "include", let target = d.args.first?.value {
                let full = target.hasPrefix("/") ? target : prefix + "/" + target
                let matches: [String]
                if full.contains(where: { "*?[".contains($0) }) {
                    matches = store.glob(full)
                } else {
                    matches = [full]
                }
                includes[DirectivePath(file: file, indices: here)] = matches
                for m in matches {
                    if stack.contains(m) { throw .includeCycle(file: file, line: d.line, target: m) }
                    do {
                        try loadFile(m, store: store, stack: stack)
                    } catch .unreadable(_, let reason) {
                        throw .includeMissing(file: file, line: d.line, target: m, reason: reason)
                    }
                }
            }
            if let block = d.block {
                try followIncludes(in: block.children, file: file, indices: here, store: store, stack: stack)
            }
        }
    }

    /// Visits every directive as nginx sees them, descending into blocks and included files in place;
    /// the entries of blocks named in `opaque` (data blocks such as `map` or `types`) are not visited.
    public func walk(skippingEntriesOf opaque: Set<String> = [], _ visit: (LocatedDirective) -> Void) {
        guard let main = files[mainPath] else { return }
        walk(main.children, file: mainPath, indices: [], ancestors: [], visit: visit, seen: [mainPath], opaque: opaque)
    }

    private func walk(_ children: [Directive], file: String, indices: [Int], ancestors: [Directive], visit: (LocatedDirective) -> Void, seen: Set<String>, opaque: Set<String>) {
        for (i, d) in children.enumerated() {
            let here = DirectivePath(file: file, indices: indices + [i])
            visit(LocatedDirective(directive: d, path: here, ancestors: ancestors))
            if let targets = includes[here] {
                for t in targets where !seen.contains(t) {
                    if let f = files[t] {
                        walk(f.children, file: t, indices: [], ancestors: ancestors, visit: visit, seen: seen.union([t]), opaque: opaque)
                    }
                }
            }
            if let block = d.block, opaque.isEmpty || !opaque.contains(d.name.value) {
                walk(block.children, file: file, indices: here.indices, ancestors: ancestors + [d], visit: visit, seen: seen, opaque: opaque)
            }
        }
    }

    /// Every directive in walk order (entries of blocks named in `opaque` excluded).
    public func allDirectives(skippingEntriesOf opaque: Set<String> = []) -> [LocatedDirective] {
        var out: [LocatedDirective] = []
        walk(skippingEntriesOf: opaque) { out.append($0) }
        return out
    }

    /// The directive at `path`, if it exists.
    public func directive(at path: DirectivePath) -> Directive? {
        guard let file = files[path.file], let first = path.indices.first, first < file.children.count else { return nil }
        var d = file.children[first]
        for i in path.indices.dropFirst() {
            guard let block = d.block, i < block.children.count else { return nil }
            d = block.children[i]
        }
        return d
    }

    /// Replaces the list of children that contains the directive at `path` by applying `change` to it.
    /// `change` receives the sibling list and the directive's index in it.
    public mutating func modifySiblings(of path: DirectivePath, _ change: (inout [Directive], Int) throws -> Void) rethrows {
        guard var file = files[path.file], let last = path.indices.last else { return }
        try ConfigSet.modify(&file.children, at: ArraySlice(path.indices.dropLast()), index: last, change)
        files[path.file] = file
    }

    /// Applies `change` to the child list of the block directive at `path` (its own children).
    public mutating func modifyBlock(at path: DirectivePath, _ change: (inout Block) throws -> Void) rethrows {
        guard var file = files[path.file], let last = path.indices.last else { return }
        try ConfigSet.modify(&file.children, at: ArraySlice(path.indices.dropLast()), index: last) { siblings, i in
            guard var block = siblings[i].block else { return }
            try change(&block)
            siblings[i].block = block
        }
        files[path.file] = file
    }

    /// Applies `change` to the directive at `path`.
    public mutating func modify(at path: DirectivePath, _ change: (inout Directive) throws -> Void) rethrows {
        try modifySiblings(of: path) { siblings, i in try change(&siblings[i]) }
    }

    private static func modify(_ children: inout [Directive], at route: ArraySlice<Int>, index: Int, _ change: (inout [Directive], Int) throws -> Void) rethrows {
        guard let first = route.first else {
            guard index < children.count else { return }
            try change(&children, index)
            return
        }
        guard first < children.count, var block = children[first].block else { return }
        try modify(&block.children, at: route.dropFirst(), index: index, change)
        children[first].block = block
    }

    /// Replaces a loaded file's tree (same path).
    public mutating func replaceFile(_ file: ConfigFile) {
        guard files[file.path] != nil else { return }
        files[file.path] = file
    }

    /// The current text of a file (the original bytes if it was never edited).
    public func text(of path: String) -> String? {
        guard let file = files[path] else { return nil }
        return ConfigPrinter.print(file, capacity: (originals[path]?.utf8.count ?? 0) + 256)
    }

    /// One change per file whose printed text differs from what was read.
    public func changes() -> [FileChange] {
        order.compactMap { path in
            guard let before = originals[path], let after = text(of: path), before != after else { return nil }
            return FileChange(path: path, before: before, after: after)
        }
    }

    static func errnoText() -> String {
        guard let s = strerror(errno) else { return "error \(errno)" }
        return String(decoding: UnsafeRawBufferPointer(start: s, count: strlen(s)), as: UTF8.self)
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return normalize(path) }
        var buf = [CChar](repeating: 0, count: 4096)
        let cwd = getcwd(&buf, buf.count) != nil
            ? String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "."
        return normalize(cwd + "/" + path)
    }

    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for seg in path.split(separator: "/", omittingEmptySubsequences: true) {
            if seg == "." { continue }
            if seg == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(seg)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}
