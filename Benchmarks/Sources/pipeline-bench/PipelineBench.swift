import Foundation
import KafkaClient
import LogStore
import Logging
import PaymentService
import Payments
import Protocol

/// The PSP-result pipeline in one process, durable (fsync on every commit): N orders are created
/// through `PaymentService.createOrder`, N `PspResultUpdateEvent`s are appended to
/// `psp-result-updates` in producer-sized batches, then one consumer task per partition runs
/// `processResults` until every result is applied. The baseline, in the same process and store
/// layout, is the bare log consumer step: read the same number of records and commit the group
/// offset per batch, with no payment work. The ratio is what the payment logic costs.
///
///     cd Benchmarks && swift build -c release --product pipeline-bench && .build/release/pipeline-bench [orders] [batch]
@main
struct PipelineBench {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
        let orders = arguments.first ?? 100_000
        let maxRecords = arguments.dropFirst().first ?? 5000
        let directory = NSTemporaryDirectory() + "paynode-pipeline-bench-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        var configuration = LogStoreConfiguration(dataDirectory: directory)
        configuration.initialMapSize = 1 << 30
        let store = try LogStore(configuration: configuration, logger: logger)
        defer { store.close() }
        let service = PaymentService(store: store, logger: logger)
        let partitions = 3
        try await service.ensureTopics(partitions: partitions)

        // Orders, from 256 concurrent API-like callers (group commit).
        let createStart = ContinuousClock.now
        // Kept in creation order (caller k creates orders k, k+256, ...), so results arrive in
        // roughly the order their orders were created, as they do from a PSP.
        let ids: [String] = try await withThrowingTaskGroup(of: [(Int, String)].self) { group in
            let callers = 256
            for caller in 0..<callers {
                group.addTask {
                    var ids: [(Int, String)] = []
                    for index in stride(from: caller, to: orders, by: callers) {
                        let body = #"{"merchantId":"m_1","amount":\#(1000 + index % 500),"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#
                        let response = try await service.createOrder(body: Array(body.utf8), idempotencyKey: "bench-\(index)", traceparent: nil)
                        let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
                        ids.append((index, object?["paymentOrderId"] as? String ?? ""))
                    }
                    return ids
                }
            }
            var all: [(Int, String)] = []
            for try await part in group { all += part }
            return all.sorted { $0.0 < $1.0 }.map(\.1)
        }
        let createSeconds = seconds(ContinuousClock.now - createStart)

        // Results, appended per partition in batches of 1000 (what a producer sends).
        var perPartition: [[Record]] = Array(repeating: [], count: partitions)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for id in ids {
            var event = Paynode_Events_V1_PspResultUpdateEvent()
            event.paymentOrderID = id
            event.pspStatus = .successful
            event.pspReference = "pi_\(id.suffix(12))"
            event.eventTimeUnixMs = now
            event.psp = "stripe"
            let encoded = try EventEnvelope.encode(event)
            var headers = encoded.headers
            headers.append(RecordHeader(key: "traceparent", value: Array("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".utf8)))
            let partition = Int(KafkaPartitioner.partition(forKey: Array(id.utf8), partitionCount: partitions))
            perPartition[partition].append(Record(timestamp: now, key: Array(id.utf8), value: encoded.value, headers: headers))
        }
        for (partition, records) in perPartition.enumerated() {
            for start in stride(from: 0, to: records.count, by: 1000) {
                _ = try await store.append(topic: PaymentTopics.pspResultUpdates, partition: Int32(partition),
                                           records: Array(records[start..<min(start + 1000, records.count)]))
            }
        }

        let counts = perPartition.map(\.count)
        // Baseline: the bare consumer step over the same records (read + offset commit per batch).
        let baselineStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for partition in 0..<partitions {
                group.addTask {
                    var offset: Int64 = 0
                    let end = Int64(counts[partition])
                    while offset < end {
                        let fetched = try store.read { try $0.fetch(topic: PaymentTopics.pspResultUpdates, partition: Int32(partition),
                                                                    offset: offset, maxBytes: 4 << 20) }
                        let (batches, _) = try RecordBatch.split(fetched.records)
                        var count = 0
                        for batch in batches {
                            count += try RecordBatch.decodeRecords(batch).filter { $0.offset >= offset }.count
                            if count >= maxRecords { break }
                        }
                        let next = offset + Int64(min(count, maxRecords))
                        try await store.commitOffset(group: "baseline", topic: PaymentTopics.pspResultUpdates,
                                                     partition: Int32(partition), offset: next)
                        offset = next
                    }
                }
            }
            try await group.waitForAll()
        }
        let baselineSeconds = seconds(ContinuousClock.now - baselineStart)

        // The pipeline: ProcessPaymentService over every result. The marker on stderr lets a
        // profiler attach to this phase alone (`perf record -p`).
        FileHandle.standardError.write(Data("phase: pipeline\n".utf8))
        let processStart = ContinuousClock.now
        let applied = try await withThrowingTaskGroup(of: Int.self) { group in
            for partition in 0..<partitions {
                group.addTask {
                    var applied = 0
                    var remaining = counts[partition]
                    while remaining > 0 {
                        let summary = try await service.processResults(partition: Int32(partition), maxRecords: maxRecords)
                        remaining -= summary.records
                        applied += summary.outcomes[.applied] ?? 0
                    }
                    return applied
                }
            }
            var total = 0
            for try await count in group { total += count }
            return total
        }
        let processSeconds = seconds(ContinuousClock.now - processStart)
        precondition(applied == orders, "applied \(applied) of \(orders)")

        let pipelineRate = Double(orders) / processSeconds
        let baselineRate = Double(orders) / baselineSeconds
        print("orders created:        \(orders) in \(format(createSeconds)) s = \(Int(Double(orders) / createSeconds)) orders/s (256 concurrent callers)")
        print("baseline consume step: \(Int(baselineRate)) records/s (read + offset commit per \(maxRecords), no payment work)")
        print("PSP-result pipeline:   \(Int(pipelineRate)) results/s applied (\(maxRecords) per transaction, \(partitions) partitions)")
        print("ratio pipeline/baseline: \(format(pipelineRate / baselineRate))")
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func format(_ value: Double) -> String { String(format: "%.2f", value) }
}
