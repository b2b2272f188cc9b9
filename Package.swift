// swift-tools-version: 6.1
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "paynode",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "paynode", targets: ["Node"]),
        .library(name: "LogStore", targets: ["LogStore"]),
        .library(name: "Protocol", targets: ["Protocol"]),
        .library(name: "KafkaClient", targets: ["KafkaClient"]),
        .library(name: "KafkaClientTLS", targets: ["KafkaClientTLS"]),
        .library(name: "Payments", targets: ["Payments"]),
        .library(name: "PaymentService", targets: ["PaymentService"]),
        .executable(name: "loadtest", targets: ["loadtest"]),
        .executable(name: "paynode-fuzz", targets: ["PaynodeFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // Hummingbird's own HTTP part and field types (already resolved: hummingbird depends on them).
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        // SHA-256 for the audit trail's hash chain (already resolved: swift-nio-extras depends on it).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context.git", from: "1.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        // TLS on the listeners and clients (BoringSSL), and X.509 for `paynode certs init`.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // HTTP/2 on the HTTP listeners (already resolved: hummingbird depends on it).
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        // DER/PEM types of the certificates (already resolved: swift-certificates depends on it).
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // The PSP adapters' HTTPS client (Stripe, Adyen).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // System libraries, found by pkg-config (Debian: liblmdb-dev, zlib1g-dev, libjemalloc-dev).
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The nodes' allocator (Debian: libjemalloc-dev). Linking it makes it the process's
        // malloc: glibc's allocator was a fifth of the executor's CPU under load (BENCHMARKS.md).
        .systemLibrary(
            name: "CJemalloc",
            pkgConfig: "jemalloc",
            providers: [.apt(["libjemalloc-dev"])]
        ),
        // CRC-32C (Castagnoli) with SSE4.2 / ARMv8 hardware paths and a table fallback.
        .target(
            name: "CCRC32C",
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        // Kafka wire formats: record batch v2, varints, compression; later the API codecs.
        .target(
            name: "Protocol",
            dependencies: [
                "CZlib",
                "CCRC32C",
                .product(name: "NIOCore", package: "swift-nio"),
                // SASL SCRAM: HMAC and SHA-2 (Crypto), PBKDF2 for Hi() (_CryptoExtras).
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        // The shared, versioned event schema (schemas/paynode/events/v1/events.proto): the
        // generated messages and the record headers that name them.
        .target(
            name: "PaymentEvents",
            dependencies: ["Protocol", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "PaymentEventsTests",
            dependencies: ["PaymentEvents", "PaynodeTestSupport", "Protocol", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: strictSwift
        ),
        // Tracing: a swift-distributed-tracing tracer with W3C trace context, span exporters,
        // and OpenTelemetry messaging spans for Kafka records.
        .executableTarget(
            name: "PaynodeFuzz",
            dependencies: ["PaymentEvents", "Payments", "Protocol", "PaymentService", "PaymentExecutor", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSwift
        ),
        .target(
            name: "Telemetry",
            dependencies: [
                "Protocol",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "TelemetryTests",
            dependencies: ["Telemetry", "Protocol", .product(name: "Tracing", package: "swift-distributed-tracing"),
                           .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        // Payment domain rules: order ids, ProcessPaymentService's decisions, PSP adapters.
        .target(
            name: "Payments",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSwift
        ),
        // PaymentService's core over the embedded log: orders, PSP results, one transaction each.
        .target(
            name: "PaymentService",
            dependencies: ["PaymentEvents", 
                "Payments", "LogStore", "Protocol", "Telemetry",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ],
            swiftSettings: strictSwift
        ),
        // The payment API's replies: every status code, header and error body the node's HTTP
        // routes answer for the service's outcomes and the gate's refusals.
        .target(
            name: "PaymentHTTP",
            dependencies: ["PaymentService", "Payments", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "PaymentHTTPTests",
            dependencies: ["PaymentHTTP", "PaymentService", "Payments", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strictSwift
        ),
        // PaymentOrderExecutor: consumes orders over Kafka, calls PSPs, publishes results.
        // Real PSPs behind `PaymentServiceProvider`: Stripe PaymentIntents and Adyen Checkout over
        // HTTPS; their request building and answer reading are pure (`StripeAPI`, `AdyenAPI`).
        .target(
            name: "PSPAdapters",
            dependencies: [
                "Payments",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "PSPAdaptersTests",
            dependencies: ["PSPAdapters", "Payments"],
            swiftSettings: strictSwift
        ),
        // The ledger: double-entry postings and wallets from payment-events, in its own LMDB.
        .target(
            name: "Ledger",
            dependencies: [
                "PaymentEvents", "LogStore", "Protocol", "KafkaClient",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "LedgerTests",
            dependencies: ["Ledger", "LogStore", "PaymentEvents", "Protocol", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .target(
            name: "PaymentExecutor",
            dependencies: ["PaymentEvents", 
                "Payments", "LogStore", "Protocol", "KafkaClient", "Telemetry",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "PaymentServiceTests",
            dependencies: ["PaymentEvents", "PaymentService", "Payments", "LogStore", "Protocol", "Telemetry",
                           .product(name: "Logging", package: "swift-log"), .product(name: "Tracing", package: "swift-distributed-tracing")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "PaymentExecutorTests",
            dependencies: ["PaymentExecutor", "KafkaClient", "LogStore", "Payments", "PaynodeTestSupport", "Protocol", .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "PaymentsTests",
            dependencies: ["Payments"],
            swiftSettings: strictSwift
        ),
        // The durable Kafka-shaped log over LMDB.
        .target(
            name: "LogStore",
            dependencies: [
                "CLMDB",
                "Protocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSwift
        ),
        // TLS for every listener and client: PEM files into NIOSSL contexts (reloaded on
        // SIGHUP), the flags' validation, and a local CA for development certificates.
        .target(
            name: "TLSSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "TLSSupportTests",
            dependencies: [
                "TLSSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        // paynode's own Kafka client: connections, metadata, fetch, offsets, idempotent producer.
        // No TLS implementation of its own (KafkaTransportSecurity): what only speaks plaintext
        // Kafka, like the sanitizer build of paynode-fuzz, does not compile BoringSSL.
        .target(
            name: "KafkaClient",
            dependencies: [
                "Protocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // The client's TLS (SSL, SASL_SSL listeners) with NIOSSL.
        .target(
            name: "KafkaClientTLS",
            dependencies: [
                "KafkaClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSwift
        ),
        // HTTP for Hummingbird's router: HTTP/1.1 with pipelined requests served side by side
        // where they commute, answers in order; HTTP/2 (h2 by ALPN, h2c by prior knowledge)
        // with each stream one request (docs/architecture.md).
        .target(
            name: "HTTPPipelining",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP2", package: "swift-nio-extras"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // The Kafka broker: the API handlers over the log store, consumer groups, ACLs, SASL
        // credentials, and the TCP listener that serves them. The node embeds it; its tests run it
        // in process.
        .target(
            name: "KafkaBroker",
            dependencies: [
                "LogStore", "Protocol", "Telemetry", "TLSSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        // What only test targets use: the broker run in process, and the package's own
        // executables run as child processes (`paynode broker`, LogStoreCrashTest, tools).
        .target(
            name: "PaynodeTestSupport",
            dependencies: [
                "KafkaBroker", "KafkaClient", "LogStore", "Protocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "KafkaBrokerTests",
            dependencies: [
                "KafkaBroker", "KafkaClient", "LogStore", "PaynodeTestSupport", "Protocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "Node",
            dependencies: [
                "CJemalloc",
                "HTTPPipelining",
                "KafkaBroker",
                "LogStore",
                "Protocol",
                "KafkaClient",
                "KafkaClientTLS",
                "PaymentService",
                "PaymentHTTP",
                "PaymentExecutor",
                "Ledger",
                "PaymentEvents",
                "Payments",
                "PSPAdapters",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                "Telemetry",
                "TLSSupport",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSwift
        ),
        // `loadtest`: sustained load with fault injection against a paynode cluster, an
        // exactly-once checker and a latency/throughput report (docs/loadtest.md).
        .executableTarget(
            name: "loadtest",
            dependencies: ["PaymentEvents", 
                "KafkaClient", "KafkaClientTLS", "Protocol", "Payments", "Telemetry", "TLSSupport",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "loadtest",
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HTTPPipeliningTests",
            dependencies: [
                "HTTPPipelining",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP2", package: "swift-nio-extras"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "LoadtestTests",
            dependencies: [
                "loadtest",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        // A child process for the SIGKILL crash test: appends and commits in a loop.
        .executableTarget(
            name: "LogStoreCrashTest",
            dependencies: [
                "LogStore", "Protocol", "CLMDB",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ProtocolTests",
            dependencies: ["Protocol", "PaynodeTestSupport", "PaymentService", "PaymentExecutor", .product(name: "NIOCore", package: "swift-nio")],
            exclude: ["golden", "KafkaDataPath/golden", "KafkaGroups/golden", "Security/golden"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "KafkaClientTests",
            dependencies: [
                "KafkaClient", "KafkaClientTLS", "PaynodeTestSupport", "Protocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "LogStoreTests",
            dependencies: [
                "LogStore", "PaynodeTestSupport", "Protocol", "CLMDB",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
    ],
    swiftLanguageModes: [.v6]
)
