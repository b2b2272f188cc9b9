import Foundation
import KafkaBroker
import KafkaClient
import Logging
import LogStore
import Protocol
import ServiceLifecycle

/// The node's Kafka broker running in this process: the group coordinator and the listener on
/// 127.0.0.1 and a free port, over a LogStore in a data directory of its own. Tests that need a
/// broker, not the `paynode` process, run against it: it starts in milliseconds and its store
/// is at hand.
package struct InProcessBroker: Sendable {
    package let store: LogStore
    package let dataDirectory: URL
    package let port: Int

    package var address: KafkaBrokerAddress { KafkaBrokerAddress(host: "127.0.0.1", port: port) }
    package var bootstrap: String { address.description }

    /// What `paynode broker` runs with by default, but on a free port and with no rebalance
    /// delay (a test's group has all its members at once).
    package static func defaultSettings() -> KafkaBrokerSettings {
        KafkaBrokerSettings(
            server: .init(host: "127.0.0.1", port: 0),
            broker: .init(advertisedHost: "127.0.0.1", advertisedPort: 0, defaultPartitions: 3, autoCreateTopics: true),
            groups: .init(initialRebalanceDelayMilliseconds: 0))
    }

    /// Runs a broker for the length of `body`, then shuts it down gracefully and closes its
    /// store. `dataDirectory` nil makes a fresh one, removed afterwards; a given one stays, so
    /// a second run over it is a restart. `prepare` writes to the store before the broker
    /// starts (SASL users, ACLs), as the `paynode users` and `acls` commands do.
    package static func run<Result: Sendable>(
        _ settings: KafkaBrokerSettings = defaultSettings(), dataDirectory: URL? = nil,
        prepare: (LogStore) async throws -> Void = { _ in },
        _ body: (InProcessBroker) async throws -> Result
    ) async throws -> Result {
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("paynode-in-process-broker-\(UUID().uuidString)")
        defer { if dataDirectory == nil { try? FileManager.default.removeItem(at: directory) } }
        var storeConfiguration = LogStoreConfiguration(dataDirectory: directory.path)
        // A test's data need not survive a machine crash: no fsync per commit.
        storeConfiguration.durability = .deferredSync(intervalMilliseconds: 1000)
        storeConfiguration.initialMapSize = 16 << 20
        storeConfiguration.retentionCheckIntervalMilliseconds = 0
        var storeLogger = Logger(label: "paynode.logstore")
        storeLogger.logLevel = .warning
        let store = try LogStore(configuration: storeConfiguration, logger: storeLogger)
        defer { store.close() }
        try await prepare(store)

        let (boundPorts, boundPort) = AsyncStream.makeStream(of: Int.self)
        let (coordinator, server) = try settings.makeServices(store: store) { boundPort.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [.init(service: coordinator), .init(service: server)],
                                                      logger: Logger(label: "paynode.test-broker")))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                // A listener that cannot bind ends the group: the wait for its port ends too.
                defer { boundPort.finish() }
                try await group.run()
            }
            var ports = boundPorts.makeAsyncIterator()
            guard let port = await ports.next() else {
                try await tasks.waitForAll()
                throw TestSupportError("the in-process broker stopped before its listener was bound")
            }
            let result: Result
            do {
                result = try await body(InProcessBroker(store: store, dataDirectory: directory, port: port))
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }
}
