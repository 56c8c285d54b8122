/// An endpoint's identity: its whitelist map key as nginx compares it.
///
/// Exact keys are equal ASCII-case-insensitively (nginx lowercases map keys), regex keys by their text.
/// Short names (`book.get_info`) are for display only; everything that stores or matches an endpoint
/// (the journal, the statistics, the dashboard) keys on this.
public struct EndpointID: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    /// The key as written in the whitelist map (after quotes and escapes).
    public let key: MapKey

    /// The identity of the endpoint whose whitelist key is `key`.
    public init(_ key: MapKey) { self.key = key }

    /// The identity of the endpoint whose whitelist key reads `raw`.
    public init(raw: String) { self.key = MapKey(raw: raw) }

    /// The raw key text.
    public var description: String { key.raw }

    public init(from decoder: Decoder) throws {
        self.init(raw: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(key.raw)
    }

    public static func < (a: EndpointID, b: EndpointID) -> Bool {
        a.key.identity != b.key.identity ? a.key.identity < b.key.identity : (!a.key.isRegex && b.key.isRegex)
    }
}
