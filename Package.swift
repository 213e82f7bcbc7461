// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "herd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "herd", targets: ["herd"]),
        .executable(name: "herd-shim", targets: ["herd-shim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        // Object model, JSON/YAML codec, selectors, quantities, defaulting, validation, patches, tables.
        .target(name: "HerdAPI", dependencies: [
            .product(name: "Yams", package: "Yams"),
        ]),
        // Versioned, watchable key-value store: SQLite (default) and memory backends.
        .target(name: "HerdStore", dependencies: [
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "HerdAPIServer", dependencies: [
            "HerdAPI", "HerdStore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "CompressNIO", package: "compress-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
        ]),
        .target(name: "HerdClient", dependencies: [
            "HerdAPI",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        // Scheduling queue, filter/score framework and binder; an API client like every other component.
        .target(name: "HerdScheduler", dependencies: [
            "HerdAPI", "HerdClient",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The controller manager: one reconcile loop per kind on shared informers and work queues.
        .target(name: "HerdControllers", dependencies: [
            "HerdAPI", "HerdClient",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The node agent (and its simulated form for scale tests).
        .target(name: "HerdNode", dependencies: [
            "HerdAPI", "HerdClient", "CHerdShim",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // Pod network (IPAM, node bridge, veth), later the service proxy and cluster DNS.
        .target(name: "HerdNetwork", dependencies: [
            "HerdAPI", "HerdClient", "CHerdShim",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // The container monitor (shim) that runs before Swift starts when `herd` is exec'd in shim mode:
        // namespaces, cgroup, mounts, exec, log copying; it outlives the agent.
        .target(name: "CHerdShim"),
        // The same shim as a C-only program: no Swift runtime to load on every container start.
        .executableTarget(name: "herd-shim", dependencies: ["CHerdShim"], linkerSettings: [
            // Without Swift's start-up object nothing refers to the Swift runtime, so a static link takes none
            // of it: a 1 MB C program that starts in a quarter of a millisecond (dynamically linked to
            // libswiftCore and libstdc++ it took about 2 ms and most of the shim's CPU per container start).
            .unsafeFlags(["-nostartfiles", "-static-executable"]),
        ]),
        .executableTarget(name: "herd", dependencies: [
            "HerdAPI", "HerdStore", "HerdAPIServer", "HerdClient", "HerdScheduler", "HerdControllers", "HerdNode",
            "HerdNetwork", "CHerdShim",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
        ], linkerSettings: [
            // lld with packed relative relocations (DT_RELR, glibc >= 2.36): the PIE's relocation table, which
            // every herd process reads at start and keeps resident, shrinks from 1.9 MB to 0.4 MB.
            .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"]),
        ]),
        .testTarget(name: "HerdAPITests", dependencies: ["HerdAPI"]),
        .testTarget(name: "HerdStoreTests", dependencies: ["HerdStore"]),
        .testTarget(name: "HerdAPIServerTests", dependencies: [
            "HerdAPIServer", "HerdAPI", "HerdStore", "HerdClient",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "HerdClientTests", dependencies: ["HerdClient", "HerdAPI", "HerdAPIServer", "HerdStore"]),
        .testTarget(name: "HerdSchedulerTests", dependencies: ["HerdScheduler", "HerdAPI", "HerdClient"]),
        .testTarget(name: "HerdControllersTests", dependencies: [
            "HerdControllers", "HerdScheduler", "HerdNode", "HerdAPI", "HerdClient", "HerdAPIServer", "HerdStore",
        ]),
        .testTarget(name: "HerdNodeTests", dependencies: [
            "HerdNode", "HerdNetwork", "HerdAPI", "HerdClient", "HerdAPIServer", "HerdStore",
        ]),
        .testTarget(name: "HerdE2ETests", dependencies: ["HerdAPI"], exclude: ["python"]),
    ]
)

