// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Cutover",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "cutover", targets: ["cutover"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // C wrappers: the only modules that know about C.
        .systemLibrary(name: "CPCRE2", pkgConfig: "libpcre2-8", providers: [.apt(["libpcre2-dev"])]),
        .systemLibrary(name: "CNcursesw", pkgConfig: "ncursesw", providers: [.apt(["libncurses-dev"])]),

        // Core: no UI.
        .target(name: "NginxConfig"),
        .target(name: "Rollout", dependencies: ["NginxConfig", "CPCRE2"]),
        .target(name: "Settings", dependencies: ["Rollout", "Apply", "TrafficStats", "Autopilot", .product(name: "Yams", package: "Yams")]),
        .target(name: "AccessLog"),
        .target(name: "TrafficStats", dependencies: [
            "AccessLog", "Rollout", "CPCRE2",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "Collections", package: "swift-collections"),
        ]),
        .target(name: "Apply", dependencies: ["NginxConfig", "Rollout"]),
        .target(name: "Autopilot", dependencies: ["NginxConfig", "Rollout", "Apply", "TrafficStats"]),
        .target(name: "Preflight", dependencies: ["NginxConfig", "Rollout", "AccessLog", "TrafficStats", "Apply"]),
        // The guard's /metrics: figures into swift-prometheus, served over SwiftNIO's HTTP/1 server.
        .target(name: "PrometheusExport", dependencies: [
            "Rollout", "TrafficStats", "Autopilot",
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // The syslog listener (UDP and TCP, on its own event loop): feeds the traffic ingest; knows sockets, not stats.
        .target(name: "SyslogListener", dependencies: [
            "AccessLog", "TrafficStats",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),

        // Terminal UI.
        .target(name: "TerminalUI"),
        .target(name: "TerminalCurses", dependencies: ["TerminalUI", "CNcursesw"]),
        .target(name: "Dashboard", dependencies: [
            "NginxConfig", "Rollout", "Settings", "AccessLog", "TrafficStats", "Apply", "Preflight", "TerminalUI", "Autopilot",
            .product(name: "Yams", package: "Yams"),
        ], plugins: ["EmbedThemes"]),

        // Build tools: the built-in themes are the themes/ files, embedded into Dashboard at build time.
        .executableTarget(name: "embed-themes"),
        .plugin(name: "EmbedThemes", capability: .buildTool(), dependencies: ["embed-themes"]),

        // Executables: the one place real implementations are wired together.
        .executableTarget(name: "cutover", dependencies: [
            "NginxConfig", "Rollout", "Settings", "AccessLog", "TrafficStats", "Apply", "Preflight",
            "TerminalUI", "TerminalCurses", "Dashboard", "Autopilot", "PrometheusExport", "SyslogListener",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "cutover-bench", dependencies: [
            "NginxConfig", "Rollout", "AccessLog", "TrafficStats", "Apply", "SyslogListener", "Dashboard", "TerminalUI", "Settings",
        ]),

        // Fuzz targets (Fuzz/README.md): built normally they replay the inputs named on the command line;
        // built with `-Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING` they are libFuzzer binaries.
        .target(name: "FuzzDriver", path: "Fuzz/Driver"),
        .executableTarget(name: "fuzz-config-parser", dependencies: ["NginxConfig", "FuzzDriver"], path: "Fuzz/ConfigParser"),
        .executableTarget(name: "fuzz-log-line", dependencies: ["AccessLog", "FuzzDriver"], path: "Fuzz/LogLine"),
        .executableTarget(name: "fuzz-settings", dependencies: ["Settings", "FuzzDriver"], path: "Fuzz/SettingsReader"),

        // Tests.
        .target(name: "TestSupport", dependencies: ["Apply", "TrafficStats"], path: "Tests/TestSupport"),
        .testTarget(name: "NginxConfigTests", dependencies: ["NginxConfig", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "RolloutTests", dependencies: ["Rollout", "Settings", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "AccessLogTests", dependencies: ["AccessLog", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TrafficStatsTests", dependencies: ["TrafficStats", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ApplyTests", dependencies: ["Apply", "Rollout", "NginxConfig", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "AutopilotTests", dependencies: ["Autopilot", "Settings", "Apply", "Rollout", "NginxConfig", "TrafficStats", "TestSupport"]),
        .testTarget(name: "PrometheusExportTests", dependencies: ["PrometheusExport", "Autopilot", "Rollout", "NginxConfig", "TrafficStats", "AccessLog", "TestSupport"]),
        .testTarget(name: "SyslogListenerTests", dependencies: ["SyslogListener", "AccessLog", "TrafficStats", "Rollout", "NginxConfig", "Settings", "TestSupport"]),
        .testTarget(name: "PreflightTests", dependencies: ["Preflight", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TerminalUITests", dependencies: ["TerminalUI", "TestSupport"], exclude: ["Fixtures", "__Snapshots__"]),
        .testTarget(name: "DashboardTests", dependencies: ["Dashboard", "TerminalUI", "Preflight", "Rollout", "Autopilot", "TestSupport"], exclude: ["Fixtures", "__Snapshots__"]),
        .testTarget(name: "IntegrationTests", dependencies: ["NginxConfig", "Rollout", "Apply", "AccessLog", "TrafficStats", "Autopilot", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport"], exclude: ["Fixtures"]),
    ]
)
