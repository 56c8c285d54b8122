import CPCRE2
import Synchronization

/// Compiles map-key regular expressions with PCRE2 exactly as nginx 1.22 does (`ngx_regex_compile`: no options
/// but `PCRE2_CASELESS` for `~*`), which is also how the TrafficStats classifier compiles them.
public enum RegexCheck {
    /// nginx's error text for `pattern` (e.g. "quantifier does not follow a repeatable item at \"*$\""), nil when it compiles.
    public static func error(compiling pattern: String, caseless: Bool) -> String? {
        var errorCode: Int32 = 0
        var errorOffset = 0
        let bytes = Array(pattern.utf8)
        let code = bytes.withUnsafeBufferPointer { buffer in
            pcre2_compile_8(buffer.baseAddress, buffer.count, caseless ? UInt32(PCRE2_CASELESS) : 0, &errorCode, &errorOffset, nil)
        }
        if let code {
            pcre2_code_free_8(code)
            return nil
        }
        var message = [UInt8](repeating: 0, count: 256)
        let length = message.withUnsafeMutableBufferPointer { pcre2_get_error_message_8(errorCode, $0.baseAddress, 256) }
        let text = String(decoding: message.prefix(max(0, Int(length))), as: UTF8.self)
        if errorOffset >= bytes.count { return text }
        return "\(text) at \"\(String(decoding: bytes[errorOffset...], as: UTF8.self))\""
    }

    /// The compile error of a map key, nil for exact keys and regexes that compile. Results are remembered
    /// (every discovery checks every key, and an edit rediscovers), up to `cacheLimit` keys.
    public static func error(for key: MapKey) -> String? {
        guard let pattern = key.pattern else { return nil }
        if let known = cache.withLock({ $0[key.key] }) { return known.error }
        let result = error(compiling: pattern, caseless: key.caseless)
        cache.withLock { c in
            if c.count >= cacheLimit { c.removeAll(keepingCapacity: true) }
            c[key.key] = Verdict(error: result)
        }
        return result
    }

    private struct Verdict: Sendable { var error: String? }
    private static let cacheLimit = 100_000
    private static let cache = Mutex<[String: Verdict]>([:])
}
