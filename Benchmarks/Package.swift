// swift-tools-version: 6.1
// Benchmarks for paynode, kept out of the root package so that `swift build` / `swift test`
// there never build them. Build and run in release mode:
//   cd Benchmarks && swift build -c release --product logstore-bench && .build/release/logstore-bench
import Foundation
import PackageDescription

// A path dependency's identity is its directory's name (`main` in /work/main, `paynode` in a
// fresh clone), so it is computed rather than spelled out.
let rootPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()

let package = Package(
    name: "paynode-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        // Only for a quiet logger and ByteBuffer; the same versions the root package resolves.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // Plain-C LMDB baselines doing the same work as LogStore with the same sync settings.
        .target(
            name: "RawLMDB",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("lmdb")]
        ),
        .executableTarget(
            name: "logstore-bench",
            dependencies: [
                "RawLMDB",
                .product(name: "LogStore", package: rootPackage),
                .product(name: "Protocol", package: rootPackage),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "pipeline-bench",
            dependencies: [
                .product(name: "LogStore", package: rootPackage),
                .product(name: "Protocol", package: rootPackage),
                .product(name: "KafkaClient", package: rootPackage),
                .product(name: "Payments", package: rootPackage),
                .product(name: "PaymentService", package: rootPackage),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
