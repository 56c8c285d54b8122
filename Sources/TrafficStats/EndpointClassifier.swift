import Foundation
import CPCRE2
import Rollout

/// One key of the whitelist `map $uri` block: the endpoint's identity (its map key) and its short name.
///
/// The figures are keyed by `id`; `name` is carried along for display only (two endpoints may share one).
public struct EndpointRule: Sendable, Hashable {
    /// The endpoint's identity: its whitelist map key, parsed once.
    public var id: EndpointID
    /// The endpoint's short name as the rollout shows it, for display only.
    public var name: String

    /// The map key as written in the config, e.g. `~^/v2/content_api/book.get_chapter_details` or `/health`.
    public var key: String { id.key.raw }

    /// A rule for the endpoint `id`, shown as `name`.
    public init(id: EndpointID, name: String) {
        self.id = id
        self.name = name
    }

    /// A rule for the endpoint whose map key reads `key` (as written, `\` escape included), shown as `name`.
    public init(endpoint name: String, key: String) {
        self.init(id: EndpointID(raw: key), name: name)
    }
}

/// An error met while compiling the whitelist rules.
public enum ClassifierError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidRegex(key: String, message: String, offset: Int)

    public var description: String {
        switch self {
        case .invalidRegex(let key, let message, let offset):
            return "the map key '\(key)' is not a valid regular expression (\(message) at offset \(offset)); fix it in the map block"
        }
    }
}

/// A compiled PCRE2 regular expression (JIT-compiled when the platform allows) matching byte strings.
final class CompiledRegex {
    let code: OpaquePointer
    let matchData: OpaquePointer
    let jit: Bool
    /// Literal bytes every match must start with (for `^literal...` patterns), used to skip hopeless matches.
    let anchoredPrefix: [UInt8]
    let caseless: Bool

    init(pattern: String, caseless: Bool, key: String) throws {
        var errorCode: Int32 = 0
        var errorOffset = 0
        let bytes = Array(pattern.utf8)
        let options: UInt32 = caseless ? UInt32(PCRE2_CASELESS) : 0
        let compiled = bytes.withUnsafeBufferPointer { buffer in
            pcre2_compile_8(buffer.baseAddress, buffer.count, options, &errorCode, &errorOffset, nil)
        }
        guard let compiled else {
            var message = [UInt8](repeating: 0, count: 256)
            let length = message.withUnsafeMutableBufferPointer { pcre2_get_error_message_8(errorCode, $0.baseAddress, 256) }
            throw ClassifierError.invalidRegex(key: key, message: String(decoding: message.prefix(max(0, Int(length))), as: UTF8.self),
                                               offset: errorOffset)
        }
        code = compiled
        jit = pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE)) == 0
        guard let data = pcre2_match_data_create_from_pattern_8(compiled, nil) else {
            pcre2_code_free_8(compiled)
            throw ClassifierError.invalidRegex(key: key, message: "out of memory for match data", offset: 0)
        }
        matchData = data
        self.caseless = caseless
        anchoredPrefix = Self.literalPrefix(bytes, caseless: caseless)
    }

    deinit {
        pcre2_match_data_free_8(matchData)
        pcre2_code_free_8(code)
    }

    /// The literal bytes after a leading `^` up to the first metacharacter; empty when there is none.
    static func literalPrefix(_ pattern: [UInt8], caseless: Bool) -> [UInt8] {
        guard pattern.first == UInt8(ascii: "^"), !pattern.contains(UInt8(ascii: "|")) else { return [] }
        var prefix: [UInt8] = []
        let meta = Set("\\^$.[]()?*+{}|".utf8)
        var i = 1
        while i < pattern.count, !meta.contains(pattern[i]), pattern[i] < 0x80 {
            prefix.append(caseless ? lower(pattern[i]) : pattern[i])
            i += 1
        }
        // A quantifier makes the character before it optional or repeated: leave it out.
        if i < pattern.count, [UInt8(ascii: "?"), UInt8(ascii: "*"), UInt8(ascii: "{")].contains(pattern[i]), !prefix.isEmpty {
            prefix.removeLast()
        }
        return prefix
    }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    /// Whether the regex matches anywhere in the subject.
    @inline(__always)
    func matches(_ subject: UnsafeRawBufferPointer) -> Bool {
        let n = anchoredPrefix.count
        if n > 0 {
            guard subject.count >= n else { return false }
            for i in 0..<n {
                let b = caseless ? Self.lower(subject[i]) : subject[i]
                if b != anchoredPrefix[i] { return false }
            }
        }
        let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let empty: UInt8 = 0
        return withUnsafePointer(to: empty) { emptyPointer in
            let start = base ?? emptyPointer
            let rc = jit
                ? pcre2_jit_match_8(code, start, subject.count, 0, 0, matchData, nil)
                : pcre2_match_8(code, start, subject.count, 0, 0, matchData, nil)
            return rc >= 0
        }
    }
}

/// The result of classifying one path: the endpoint index (or -1 when not migrated) and the normalised path's hash.
public struct Classification: Sendable, Equatable {
    /// Index into `EndpointClassifier.endpoints`, or -1 when no map key matches.
    public var endpoint: Int32
    /// The hash of the normalised path (identifies not-migrated paths cheaply).
    public var pathHash: UInt64
}

/// Maps request paths to whitelisted endpoints with nginx's `map` rules, caching results per raw path.
///
/// Exact keys are compared ignoring case and win over regexes; regexes (`~` case-sensitive, `~*` not) are tried in
/// order of appearance; a key starting with `\` is an exact string without the backslash. Paths are normalised
/// first (see `PathNormalizer`). The cache is bounded: when it fills up, it is emptied and refilled.
/// Cached results are keyed by the raw path's bytes and 64-bit hash.
/// Not thread-safe.
public final class EndpointClassifier {
    /// The endpoints' identities, in order of first appearance in the rules (an endpoint index points here).
    public let endpoints: [EndpointID]
    /// The endpoints' short names, by endpoint index (for display only).
    public let names: [String]
    private let exact: [UInt64: [(bytes: [UInt8], endpoint: Int32)]]
    private let regexes: [(regex: CompiledRegex, endpoint: Int32)]
    /// Regexes grouped by the length and case rule of their literal prefix: the hash of a path's first bytes
    /// picks the only regexes that can match, so a miss does not try every key.
    private let prefixGroups: [(length: Int, caseless: Bool, table: [UInt64: [Int]])]
    /// Regexes without a literal prefix: always tried.
    private let unprefixed: [Int]

    // Cache: an open-addressing table of 64-byte slots (one cache line each) holding the raw path's hash,
    // its length, its first 40 bytes inline and the result. Keys up to 40 bytes are compared in full; longer
    // keys by length, first 40 bytes and 64-bit hash.
    struct CacheSlot {
        var hash: UInt64 = 0
        var pathHash: UInt64 = 0
        var endpoint: Int32 = -1
        var length: Int32 = -1
        var inline: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
    }

    static let inlineBytes = 40
    static let inlineOffset = MemoryLayout<CacheSlot>.offset(of: \CacheSlot.inline) ?? 24
    /// `inlineOffset` read once: a static computed at run time costs a `swift_once` check at every use.
    private let inlineOffset = EndpointClassifier.inlineOffset
    private let slotCount: Int
    private let slots: UnsafeMutablePointer<CacheSlot>
    private let maxEntries: Int
    private let normalized: UnsafeMutableRawPointer
    private let lowered: UnsafeMutableRawPointer
    private let normalizedCapacity: Int

    /// Counters kept behind a pointer so lookups pay no exclusivity checks.
    private struct Counters {
        var entries = 0
        var lastNormalizedCount = 0
        var resets = 0
        var hits = 0
        var misses = 0
    }

    private let counters: UnsafeMutablePointer<Counters>

    /// How many times the cache was emptied because it was full.
    public var cacheResets: Int { counters.pointee.resets }
    /// Cache lookups that found the path.
    public var cacheHits: Int { counters.pointee.hits }
    /// Cache lookups that had to normalise and match.
    public var cacheMisses: Int { counters.pointee.misses }

    /// Compiles the rules.
    ///
    /// - Parameter cacheEntries: paths remembered at most; the table takes 128 bytes per entry.
    public init(rules: [EndpointRule], cacheEntries: Int = 32_768) throws {
        var ids: [EndpointID] = []
        var names: [String] = []
        var index: [EndpointID: Int32] = [:]
        var exact: [UInt64: [(bytes: [UInt8], endpoint: Int32)]] = [:]
        var regexes: [(regex: CompiledRegex, endpoint: Int32)] = []
        for rule in rules {
            let endpoint: Int32
            if let known = index[rule.id] {
                endpoint = known
            } else {
                endpoint = Int32(ids.count)
                index[rule.id] = endpoint
                ids.append(rule.id)
                names.append(rule.name)
            }
            let mapKey = rule.id.key
            let key = mapKey.raw
            if let pattern = mapKey.pattern {
                regexes.append((try CompiledRegex(pattern: pattern, caseless: mapKey.caseless, key: key), endpoint))
            } else {
                if mapKey.isSpecialParameter { continue }
                let literal = mapKey.key
                let bytes = literal.utf8.map { CompiledRegex.lower($0) }
                let hash = bytes.withUnsafeBytes { ByteHash.hash($0) }
                // The first of duplicate exact keys wins, as nginx reports duplicates and keeps the first.
                if exact[hash]?.contains(where: { $0.bytes == bytes }) != true {
                    exact[hash, default: []].append((bytes, endpoint))
                }
            }
        }
        endpoints = ids
        self.names = names
        self.exact = exact
        self.regexes = regexes
        var groups: [String: (length: Int, caseless: Bool, table: [UInt64: [Int]])] = [:]
        var unprefixed: [Int] = []
        for (index, entry) in regexes.enumerated() {
            let prefix = entry.regex.anchoredPrefix
            guard !prefix.isEmpty else {
                unprefixed.append(index)
                continue
            }
            let name = "\(prefix.count)-\(entry.regex.caseless)"
            let hash = prefix.withUnsafeBytes { ByteHash.hash($0) }
            groups[name, default: (prefix.count, entry.regex.caseless, [:])].table[hash, default: []].append(index)
        }
        prefixGroups = groups.values.sorted { ($0.length, $0.caseless ? 1 : 0) < ($1.length, $1.caseless ? 1 : 0) }
        self.unprefixed = unprefixed
        var size = 16
        while size < cacheEntries * 2 { size <<= 1 }
        slotCount = size
        maxEntries = max(8, cacheEntries)
        slots = .allocate(capacity: size)
        slots.initialize(repeating: CacheSlot(), count: size)
        normalizedCapacity = 64 * 1024 + 16
        normalized = .allocate(byteCount: normalizedCapacity, alignment: 8)
        lowered = .allocate(byteCount: normalizedCapacity, alignment: 8)
        counters = .allocate(capacity: 1)
        counters.initialize(to: Counters())
    }

    deinit {
        slots.deallocate()
        normalized.deallocate()
        lowered.deallocate()
        counters.deallocate()
    }

    /// Classifies a raw path (query stripped, log escaping removed, not yet normalised), using the cache.
    @inline(__always)
    public func classify(_ raw: UnsafeRawBufferPointer) -> Classification {
        let hash = ByteHash.hash(raw)
        let mask = slotCount - 1
        let count = raw.count
        let compared = min(count, Self.inlineBytes)
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots + index
            let length = Int(slot.pointee.length)
            if length < 0 { break }
            if slot.pointee.hash == hash, length == count,
               compared == 0 || Self.same(UnsafeRawPointer(slot) + inlineOffset, raw.baseAddress.unsafelyUnwrapped, compared) {
                counters.pointee.hits &+= 1
                return Classification(endpoint: slot.pointee.endpoint, pathHash: slot.pointee.pathHash)
            }
            index = (index + 1) & mask
        }
        counters.pointee.misses &+= 1
        let result = classifyUncached(raw)
        guard count <= Int(Int32.max) else { return result }
        if counters.pointee.entries >= maxEntries {
            clearCache()
            index = Int(truncatingIfNeeded: hash) & mask
        }
        let slot = slots + index
        slot.pointee = CacheSlot(hash: hash, pathHash: result.pathHash, endpoint: result.endpoint, length: Int32(count))
        if compared > 0, let source = raw.baseAddress {
            (UnsafeMutableRawPointer(slot) + inlineOffset).copyMemory(from: source, byteCount: compared)
        }
        counters.pointee.entries += 1
        return result
    }

    /// Whether `count` bytes at two addresses are equal, eight bytes at a time.
    @inline(__always)
    static func same(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        var i = 0
        while i + 8 <= count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        while i < count {
            if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
            i += 1
        }
        return true
    }

    private func clearCache() {
        slots.update(repeating: CacheSlot(), count: slotCount)
        counters.pointee.entries = 0
        counters.pointee.resets += 1
    }

    /// The normalised form of the last path classified without the cache.
    public var lastNormalizedPath: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: normalized, count: counters.pointee.lastNormalizedCount)
    }

    /// Normalises a raw path into the classifier's buffer and returns it (valid until the next call).
    public func normalize(_ raw: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let input = raw.count + 2 > normalizedCapacity ? UnsafeRawBufferPointer(rebasing: raw[0..<(normalizedCapacity - 2)]) : raw
        counters.pointee.lastNormalizedCount = PathNormalizer.normalize(input, into: normalized)
        return lastNormalizedPath
    }

    /// Classifies without the cache: normalise, then exact keys (ignoring case), then regexes in order.
    public func classifyUncached(_ raw: UnsafeRawBufferPointer) -> Classification {
        let path = normalize(raw)
        let pathHash = ByteHash.hash(path)
        // Exact keys and caseless prefixes ignore case: the lower-cased path, built in a reusable buffer.
        for i in 0..<path.count { lowered.storeBytes(of: CompiledRegex.lower(path[i]), toByteOffset: i, as: UInt8.self) }
        let loweredPath = UnsafeRawBufferPointer(start: lowered, count: path.count)
        if !exact.isEmpty {
            if let candidates = exact[ByteHash.hash(loweredPath)],
               let hit = candidates.first(where: { $0.bytes.elementsEqual(loweredPath) }) {
                return Classification(endpoint: hit.endpoint, pathHash: pathHash)
            }
        }
        var candidates = unprefixed
        for group in prefixGroups where path.count >= group.length {
            let head = UnsafeRawBufferPointer(rebasing: (group.caseless ? loweredPath : path)[0..<group.length])
            if let list = group.table[ByteHash.hash(head)] { candidates += list }
        }
        if prefixGroups.count > 0 { candidates.sort() }
        // In order of appearance; each regex still checks its prefix, so a hash collision cannot give a wrong match.
        for index in candidates where regexes[index].regex.matches(path) {
            return Classification(endpoint: regexes[index].endpoint, pathHash: pathHash)
        }
        return Classification(endpoint: -1, pathHash: pathHash)
    }

    /// Classifies a path given as a string (for tools and tests; the hot path uses bytes).
    public func endpoint(forPath path: String) -> EndpointID? {
        index(forPath: path).map { endpoints[$0] }
    }

    /// The short name of the endpoint a path classifies to (tools and tests; names may repeat, use `endpoint(forPath:)`).
    public func name(forPath path: String) -> String? {
        index(forPath: path).map { names[$0] }
    }

    /// The endpoint index a path classifies to (into `endpoints` and `names`), nil when it matches no key.
    public func index(forPath path: String) -> Int? {
        var bytes = Array(path.utf8)
        let result = bytes.withUnsafeMutableBytes { classify(UnsafeRawBufferPointer($0)) }
        return result.endpoint >= 0 ? Int(result.endpoint) : nil
    }

    /// Paths currently cached (never more than the configured bound).
    public var cachedPaths: Int { counters.pointee.entries }
}
