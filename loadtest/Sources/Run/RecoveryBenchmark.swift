import Foundation
import KafkaClient
import Synchronization

/// Recovery: fill the service's log with `--fill-records` records (a topic of its own,
/// `loadtest-fill`, 100-byte values, produced durably by the idempotent producer), SIGKILL the
/// service and time spawn -> ready line, then -> first order accepted, over `--recovery-kills`
/// cycles.
struct RecoveryBenchmark {
    static let fillTopic = "loadtest-fill"

    let options: LoadtestCommand
    let cluster: Cluster
    let kafka: KafkaClient
    let output: String

    struct Result: Codable {
        var tool = "paynode loadtest"
        var mode = "recovery"
        var recordsInLog: Int
        var fillSeconds: Double
        var fillRecordsPerSecond: Double
        var dataFileMegabytes: Double
        var readySeconds: [Double]
        var firstOrderSeconds: [Double]
        var passed: Bool
    }

    func run() async throws -> Bool {
        try await kafka.createTopic(Self.fillTopic, partitions: Int32(options.topicPartitions ?? 3))
        let started = ContinuousClock.now
        let producer = try KafkaProducer(client: kafka, configuration: .init(linger: .milliseconds(5), maxBatchRecords: 20_000))
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: 100)
        let dispenser = IndexDispenser()
        let produced = Locked(0)
        let total = options.fillRecords
        log("filling the log with \(total) records")
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<options.producerConcurrency {
                group.addTask {
                    while true {
                        let index = dispenser.take()
                        guard index < total else { return }
                        do {
                            _ = try await producer.send(topic: Self.fillTopic, key: Array("k\(index)".utf8), value: value)
                            let done = produced.withLock { count -> Int in
                                count += 1
                                return count
                            }
                            if done % 1_000_000 == 0 { log("  \(done) records") }
                        } catch {
                            log("producing failed: \(error)")
                            return
                        }
                    }
                }
            }
        }
        await producer.close()
        let fillSeconds = (ContinuousClock.now - started).seconds
        let count = produced.value
        log(String(format: "filled %d records in %.1f s (%.0f/s)", count, fillSeconds, Double(count) / fillSeconds))
        let size = (try? FileManager.default.attributesOfItem(atPath: cluster.options.root + "/service/data.mdb")[.size] as? Int) ?? 0

        var ready: [Double] = [], firstOrder: [Double] = []
        for cycle in 0..<options.recoveryKills {
            try await Task.sleep(for: .milliseconds(500))
            cluster.service.kill()
            let spawned = ContinuousClock.now
            try await cluster.startService()
            ready.append(cluster.service.readyTimes.last ?? 0)
            let api = HTTPClient(host: "127.0.0.1", port: cluster.httpPort, connections: 1, tls: cluster.options.tls)
            let body = Array(#"{"merchantId":"m_recovery","amount":100,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#.utf8)
            let response = try await api.request(.POST, "/v1/payment-orders", body: body, headers: [("Idempotency-Key", "recovery-\(UUID())")])
            api.shutdown()
            guard response.status == 201 else { throw CheckerError("an order after restart \(cycle + 1) answered HTTP \(response.status)") }
            firstOrder.append((ContinuousClock.now - spawned).seconds)
            log(String(format: "restart %d: ready after %.3f s, first order accepted after %.3f s", cycle + 1, ready.last!, firstOrder.last!))
        }
        let passed = (ready.max() ?? 0) < 2
        let result = Result(recordsInLog: count, fillSeconds: fillSeconds, fillRecordsPerSecond: Double(count) / fillSeconds,
                            dataFileMegabytes: Double(size) / 1_048_576, readySeconds: ready, firstOrderSeconds: firstOrder, passed: passed)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(result).write(to: URL(fileURLWithPath: output))
        print(String(format: "paynode loadtest recovery: %d records (%.0f MB data file): ready after SIGKILL in %@ s (max %.3f s, target < 2 s: %@); first order accepted after %@ s",
                     count, Double(size) / 1_048_576, ready.map { String(format: "%.3f", $0) }.joined(separator: ", "),
                     ready.max() ?? 0, passed ? "met" : "MISSED", firstOrder.map { String(format: "%.3f", $0) }.joined(separator: ", ")))
        print("  result \(output)")
        return passed
    }
}
