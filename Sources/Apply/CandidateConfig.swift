import Foundation
import NginxConfig

/// The candidate configuration `nginx -t` checks before any live file is replaced: the changed files written
/// beside their live ones, and, for every file that includes a changed file (directly or through others), a
/// copy beside it whose `include` names the candidates instead, up to a candidate main config.
///
/// `nginx -t -c CANDIDATE_MAIN` then reads exactly the configuration the change makes while nginx (and any
/// reload someone else triggers meanwhile) still reads the live files. The candidates sit in the same
/// directories as the files they stand for, so nginx's conf prefix (the main config's directory, which
/// relative includes resolve against) is the same; their names start with a dot, so no include glob
/// (`conf.d/*.conf`, `sites-enabled/*`) picks them up. Each include of a changed file is rewritten on its own
/// line as one include per file the original matched, in the order nginx reads them, so line numbers in
/// nginx's messages still point at the live files' lines.
public struct CandidateConfig: Sendable, Equatable {
    /// One file written for the validation only (an includer's copy), removed afterwards.
    public struct Copy: Sendable, Equatable {
        /// The live file it stands for.
        public var live: String
        /// Where the copy is written.
        public var path: String
        /// The copy's text: the live text with the includes of changed files pointing at candidates.
        public var text: String
    }

    /// One changed file: where the change names it, the file actually written (symlinks resolved), its
    /// candidate (already written beside that file) and the new text.
    public struct Changed: Sendable, Equatable {
        public var path: String
        public var resolved: String
        public var candidate: String
        public var text: String

        /// Creates an entry.
        public init(path: String, resolved: String, candidate: String, text: String) {
            self.path = path
            self.resolved = resolved
            self.candidate = candidate
            self.text = text
        }
    }

    /// The main config `nginx -t` is pointed at (`-c`): a copy, or the main config's own candidate when the
    /// change is to the main config itself.
    public var main: String
    /// The includers' copies to write before validating and remove afterwards.
    public var copies: [Copy]
    /// Every candidate path and the live path it stands for (to translate nginx's messages back).
    public var standsFor: [String: String]
    /// Changed files the main config does not include (by any spelling or symlink): validating the candidate
    /// main would not check them, so the change must be validated in place instead.
    public var missing: [String]

    /// Plans the candidate tree for `mainConfig` as it is now (read through `store`), where each changed file
    /// is replaced by its candidate. `resolve` gives each path with its symlinks resolved (one call for all).
    ///
    /// Throws `ApplyError.configUnreadable` when the main config or a file it includes cannot be read.
    public static func plan(mainConfig: String, changed: [Changed], store: ConfigFileStore,
                            resolve: ([String]) -> [String: String], id: String) throws -> CandidateConfig {
        var newTexts: [String: String] = [:]
        for c in changed { newTexts[c.path] = c.text; newTexts[c.resolved] = c.text }
        // nginx's view of the change: the live tree with each changed file holding its new text.
        let set: ConfigSet
        do {
            set = try ConfigSet.load(path: mainConfig, store: OverlayStore(base: store, texts: newTexts))
        } catch {
            throw ApplyError.configUnreadable(path: mainConfig, reason: "\(error) (reading the configuration to validate the change beside the live files)")
        }
        let resolved = resolve(set.order)
        var candidateOf: [String: String] = [:]
        var found: Set<String> = []
        for file in set.order {
            let real = resolved[file] ?? file
            if let c = changed.first(where: { $0.path == file || $0.resolved == file || $0.resolved == real }) {
                candidateOf[file] = c.candidate
                found.insert(c.resolved)
            }
        }
        // Files that lead to a changed file: the changed files, then every file including one of those.
        var dirty = Set(candidateOf.keys)
        var grew = true
        while grew {
            grew = false
            for (at, matches) in set.includes where !dirty.contains(at.file) && matches.contains(where: dirty.contains) {
                dirty.insert(at.file)
                grew = true
            }
        }
        // Files that include a file of the change's tree need a copy whose includes point at the candidates (a
        // changed file among them too: its own candidate is the text that goes live and stays as it is).
        let includes = set.includes.filter { dirty.contains($0.key.file) && $0.value.contains(where: dirty.contains) }
        let needsCopy = Set(includes.keys.map(\.file))
        var placed = candidateOf.filter { !needsCopy.contains($0.key) }
        for file in set.order where needsCopy.contains(file) {
            placed[file] = AtomicFiles.beside(file, "candidate-" + id.prefix(8))
        }
        var edited = set
        // Last address first: a directive's address stays valid while later siblings are replaced.
        for (at, matches) in includes.sorted(by: { $0.key.indices.lexicographicallyPrecedes($1.key.indices) }).reversed() {
            guard let original = set.directive(at: at) else { continue }
            let replacement = matches.enumerated().map { index, match in
                Directive(name: Word(prefix: index == 0 ? original.name.prefix : " ", raw: "include"),
                          args: [Word.quoting(placed[match] ?? match)], beforeTerminator: "")
            }
            edited.modifySiblings(of: at) { siblings, i in siblings.replaceSubrange(i...i, with: replacement) }
        }
        var copies: [Copy] = []
        for file in set.order where needsCopy.contains(file) {
            guard let path = placed[file], let text = edited.text(of: file) else { continue }
            copies.append(Copy(live: file, path: path, text: text))
        }
        var standsFor: [String: String] = [:]
        for (live, path) in placed { standsFor[path] = live }
        return CandidateConfig(main: placed[set.mainPath] ?? set.mainPath, copies: copies, standsFor: standsFor,
                               missing: changed.filter { !found.contains($0.resolved) }.map(\.path))
    }

    /// `message` (nginx's output about the candidates) with every candidate path replaced by the live path it
    /// stands for, marked as the candidate.
    public func translate(_ message: String) -> String {
        var out = message
        for (candidate, live) in standsFor.sorted(by: { $0.key.count > $1.key.count }) {
            out = out.replacingOccurrences(of: candidate, with: live + " (candidate)")
        }
        return out
    }
}

/// A file store that answers some paths with given texts and reads the others from `base`.
struct OverlayStore: ConfigFileStore {
    var base: ConfigFileStore
    var texts: [String: String]

    func read(_ path: String) throws -> String {
        if let text = texts[path] { return text }
        return try base.read(path)
    }

    func glob(_ pattern: String) -> [String] { base.glob(pattern) }
}
