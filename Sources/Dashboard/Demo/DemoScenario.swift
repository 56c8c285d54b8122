import Foundation

/// How one service answers one endpoint in the demo: a log-normal latency, a slow tail, and a 5xx share.
public struct ServiceProfile: Sendable, Equatable {
    /// The median latency in milliseconds.
    public var medianMs: Double
    /// The spread of the log-normal (sigma of the underlying normal).
    public var sigma: Double
    /// The share of requests that hit the slow tail.
    public var tailShare: Double
    /// How many times slower a tail request is.
    public var tailFactor: Double
    /// The share of requests answered with a 5xx.
    public var errorShare: Double

    /// Creates a profile.
    public init(medianMs: Double, sigma: Double = 0.45, tailShare: Double = 0.01, tailFactor: Double = 4, errorShare: Double) {
        self.medianMs = medianMs
        self.sigma = sigma
        self.tailShare = tailShare
        self.tailFactor = tailFactor
        self.errorShare = errorShare
    }
}

/// One endpoint of the demo: its map key, where the new service serves it, its group, traffic and profiles.
public struct DemoEndpoint: Sendable, Equatable {
    /// The legacy URI prefix (the map key without `~^`).
    public var path: String
    /// The new service's path.
    public var target: String
    /// The group variable without `$` (e.g. `group3_routing`).
    public var group: String
    /// The relative share of all traffic.
    public var weight: Double
    /// How the current service answers.
    public var current: ServiceProfile
    /// How the new service answers.
    public var new: ServiceProfile

    /// The whitelist and group map key, written the way `cutover check` recommends: anchored at both ends,
    /// dots escaped.
    public var key: String { "~^" + path.replacingOccurrences(of: ".", with: "\\.") + "$" }
}

/// The demo's whole world: groups, endpoints and legacy-only paths.
public struct DemoScenario: Sendable, Equatable {
    /// Groups (name without `$`) and their initial percent, lowest first.
    public var groups: [(name: String, percent: Int)]
    /// The migrating endpoints.
    public var endpoints: [DemoEndpoint]
    /// Paths only the legacy service serves, with their relative share of traffic.
    public var legacyPaths: [(path: String, weight: Double)]
    /// How the legacy service answers the legacy-only paths.
    public var legacyProfile: ServiceProfile

    public static func == (a: DemoScenario, b: DemoScenario) -> Bool {
        a.groups.map(\.name) == b.groups.map(\.name) && a.groups.map(\.percent) == b.groups.map(\.percent)
            && a.endpoints == b.endpoints && a.legacyPaths.map(\.path) == b.legacyPaths.map(\.path)
    }

    /// Ten endpoints over five groups; the new service is faster on most and clearly worse on `search.query`
    /// (more 5xx, a much slower p99).
    public static let standard: DemoScenario = {
        let api = "/v2/content_api/"
        func fast(_ median: Double, errors: Double = 0.002) -> ServiceProfile {
            ServiceProfile(medianMs: median, sigma: 0.35, tailShare: 0.005, tailFactor: 3, errorShare: errors)
        }
        func legacy(_ median: Double, errors: Double = 0.004) -> ServiceProfile {
            ServiceProfile(medianMs: median, sigma: 0.5, tailShare: 0.02, tailFactor: 5, errorShare: errors)
        }
        let endpoints = [
            DemoEndpoint(path: api + "book.get_chapter_details", target: "/v2/chapter/get_details", group: "group5_routing",
                         weight: 14, current: legacy(48), new: fast(22)),
            DemoEndpoint(path: api + "book.chapters_by_status", target: "/v2/chapters", group: "group3_routing",
                         weight: 10, current: legacy(60), new: fast(30)),
            DemoEndpoint(path: api + "book.get_book_info", target: "/v2/book/info", group: "group3_routing",
                         weight: 12, current: legacy(35), new: fast(18)),
            DemoEndpoint(path: api + "user.get_bookmarks", target: "/v2/user/bookmarks", group: "group1_routing",
                         weight: 8, current: legacy(40), new: fast(25)),
            DemoEndpoint(path: api + "user.get_profile", target: "/v2/user/profile", group: "group4_routing",
                         weight: 9, current: legacy(30), new: fast(15)),
            DemoEndpoint(path: api + "search.query", target: "/v2/search", group: "group4_routing",
                         weight: 10, current: legacy(85, errors: 0.004),
                         new: ServiceProfile(medianMs: 95, sigma: 0.6, tailShare: 0.06, tailFactor: 9, errorShare: 0.07)),
            DemoEndpoint(path: api + "book.list_reviews", target: "/v2/reviews", group: "group3_routing",
                         weight: 6, current: legacy(55), new: fast(28)),
            DemoEndpoint(path: api + "catalog.get_categories", target: "/v2/catalog/categories", group: "group5_routing",
                         weight: 5, current: legacy(20), new: fast(9)),
            DemoEndpoint(path: api + "user.get_history", target: "/v2/user/history", group: "group2_routing",
                         weight: 6, current: legacy(70), new: fast(40)),
            DemoEndpoint(path: api + "book.get_recommendations", target: "/v2/recommendations", group: "group2_routing",
                         weight: 7, current: legacy(120), new: fast(65)),
        ]
        return DemoScenario(
            groups: [("group1_routing", 1), ("group2_routing", 5), ("group3_routing", 25), ("group4_routing", 50),
                     ("group5_routing", 100)],
            endpoints: endpoints,
            legacyPaths: [(api + "payment.checkout", 4), (api + "admin.stats", 1), ("/v2/auth/login", 5),
                          (api + "book.search_legacy", 2), ("/v1/feed", 3)],
            legacyProfile: legacy(50))
    }()

    /// The routing config in the reference pattern, with a `log_format` and both access logs in `directory`.
    public func configText(directory: String) -> String {
        func quoted(_ s: String) -> String { "\"" + s + "\"" }
        let width = (endpoints.map(\.key.count).max() ?? 0) + 1
        func pad(_ s: String) -> String { s.padding(toLength: max(width, s.count + 1), withPad: " ", startingAt: 0) }
        var text = """
            # Cutover demo: a routing file in the nginx split-migration pattern (http context).
            # Written by `cutover demo`; the built-in traffic simulator follows the percents on disk.

            log_format cutover_demo '$remote_addr - $remote_user [$time_local] "$request" '
                                    '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
                                    '$request_time $upstream_response_time';

            upstream app_server {
                server 127.0.0.1:8000 fail_timeout=0;
            }

            upstream golang_backend {
                server 127.0.0.1:9000;
            }

            # Endpoints ready for migration, and where each lives on the new service.
            map $uri $target_path {

            """
        for e in endpoints { text += "    \(pad(e.key))\(quoted(e.target));\n" }
        text += """
            }

            map $target_path $is_migratable {
                "" 0;         # not in the migration list
                default 1;    # in the migration list
            }

            # Reusable percentage groups.

            """
        for g in groups {
            text += "split_clients \"${request_id}\" $\(g.name) {\n"
            if g.percent > 0 { text += "    \(g.percent)% \"new_service\";\n" }
            text += "    * \"current_service\";\n}\n\n"
        }
        text += "# Each endpoint's group.\nmap $uri $split_group {\n"
        for e in endpoints { text += "    \(pad(e.key))\(quoted("$" + e.group));\n" }
        text += """
            }

            map $is_migratable $api_routing {
                0 "current_service";   # not migratable: legacy
                1 $split_group;        # migratable: percentage routing
            }

            server {
                listen 127.0.0.1:8080;
                server_name api.example.com;
                access_log \(directory)/main.log cutover_demo;

                location ~ ^/v2/(.*)$ {
                    if ($api_routing = "new_service") {
                        set $api_path $target_path;
                        rewrite ^ /internal_new_service_proxy last;
                        break;
                    }
                    try_files $uri @proxy_to_app;
                }

                location = /internal_new_service_proxy {
                    internal;
                    rewrite ^ $api_path break;
                    proxy_pass http://golang_backend;
                    proxy_set_header Host $host;
                    add_header X-Original-URI $request_uri always;
                    access_log \(directory)/migration.log cutover_demo;
                }

                location / {
                    try_files $uri @proxy_to_app;
                }

                location @proxy_to_app {
                    proxy_set_header Host $http_host;
                    proxy_pass http://app_server;
                }
            }

            """
        return text
    }
}
