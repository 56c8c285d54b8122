import Rollout
import TrafficStats

/// Tests paths against map keys with the TrafficStats classifier (PCRE2, nginx's map order, `$uri` normalisation).
final class KeyMatcher {
    private var single: [String: EndpointClassifier] = [:]

    /// Whether `key` alone matches `path`; nil when the key does not compile.
    func matches(_ key: String, _ path: String) -> Bool? {
        if single[key] == nil {
            guard let c = try? EndpointClassifier(rules: [EndpointRule(endpoint: "k", key: key)], cacheEntries: 64) else {
                return nil
            }
            single[key] = c
        }
        return single[key]?.endpoint(forPath: path) != nil
    }

    /// A path the key matches, confirmed with PCRE2; nil when none can be built.
    func witness(_ key: MapKey) -> String? {
        guard let w = key.witness, matches(key.key, w) == true else { return nil }
        return w
    }
}

/// All keys of one map in nginx's order: the index of the entry that wins for a path.
final class MapMatcher {
    private let classifier: EndpointClassifier?

    init(keys: [String]) {
        let rules = keys.enumerated().map { EndpointRule(endpoint: String($0.offset), key: $0.element) }
        classifier = try? EndpointClassifier(rules: rules, cacheEntries: 1024)
    }

    /// The index of the key nginx picks for `path`, nil when none matches (or the keys do not compile). A key
    /// repeated (the same identity) is one endpoint of the classifier, named by its first offset.
    func winner(_ path: String) -> Int? {
        guard let classifier, let index = classifier.index(forPath: path) else { return nil }
        return Int(classifier.names[index])
    }
}
