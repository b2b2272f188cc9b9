import Foundation
import KafkaClient

/// A real `paynode broker` child process on free ports with its own data directory, for tests
/// of the process itself (restarts, the CLI, TLS files). A test that only needs a broker runs
/// `InProcessBroker`, which starts in milliseconds.
package final class BrokerProcess: Sendable {
    package let dataDirectory: URL
    package let kafkaPort: Int
    package let httpPort: Int
    private let child: ChildProcess

    package var address: KafkaBrokerAddress { KafkaBrokerAddress(host: "127.0.0.1", port: kafkaPort) }
    package var bootstrap: String { address.description }
    /// The broker's stderr (its log), beside the data directory.
    package var logFile: URL { dataDirectory.appendingPathExtension("log") }

    /// Starts a broker and waits for its ready line; `kafkaPort` 0 picks a free port,
    /// `dataDirectory` nil makes a fresh one (the store is its `data` subdirectory).
    package init(kafkaPort: Int = 0, dataDirectory: URL? = nil, extraArguments: [String] = []) throws {
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("paynode-broker-tests-\(UUID().uuidString)")
        self.dataDirectory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathExtension("log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        child = try ChildProcess(
            executable: try BuiltProducts.paynode(),
            arguments: ["broker", "--data-dir", directory.appendingPathComponent("data").path,
                        "--kafka-listen", "127.0.0.1:\(kafkaPort)", "--http-listen", "127.0.0.1:0"] + extraArguments,
            standardError: try FileHandle(forWritingTo: log))
        let ready: String
        do {
            ready = try child.waitForLine(timeout: .seconds(60), description: "ready") { $0.contains("paynode broker ready") }
        } catch {
            throw TestSupportError("\(error); see \(log.path)")
        }
        let ports = Self.ports(inReadyLine: ready)
        guard let kafka = ports["kafka"] else { throw TestSupportError("no Kafka port in the ready line '\(ready)'") }
        self.kafkaPort = kafka
        self.httpPort = ports["http"] ?? 0
    }

    /// `name=port` pairs of a ready line (`paynode broker ready kafka=9092 http=8090`).
    private static func ports(inReadyLine line: String) -> [String: Int] {
        var ports: [String: Int] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=")
            if parts.count == 2, let port = Int(parts[1]) { ports[String(parts[0])] = port }
        }
        return ports
    }

    /// SIGTERM and wait (the data directory stays, for a restart).
    package func stop() { child.terminate() }

    /// Stops the broker and deletes its data directory and log.
    package func remove() {
        stop()
        try? FileManager.default.removeItem(at: dataDirectory)
        try? FileManager.default.removeItem(at: logFile)
    }
}
