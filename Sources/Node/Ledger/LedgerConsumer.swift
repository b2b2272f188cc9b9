import Foundation
import KafkaClient
import Ledger
import Logging
import Metrics
import PaymentExecutor
import Payments
import Protocol
import ServiceLifecycle

/// The ledger node's input: `payment-events` over the Kafka protocol (from `paynode service` or
/// any Kafka cluster), each partition fetched on its own from the position the ledger's store
/// holds, and each fetched batch posted in one LMDB transaction with its new position
/// (`LedgerStore.apply`). The positions in the store are the truth, so a SIGKILL anywhere
/// neither loses nor repeats a posting; they are also committed to the group `paynode-ledger`
/// afterwards, best effort, so `kafka-consumer-groups` and `paynode groups describe` show the
/// ledger's lag. A failure (broker unreachable, store full) pauses only its partition and is
/// retried with back-off from the same position (`ConsumerRetries`).
struct LedgerConsumer: Service {
    static let group = "paynode-ledger"

    let ledger: LedgerStore
    let client: KafkaClient
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await consume() }
    }

    private func consume() async throws {
        let topic = PaymentTopics.paymentEvents
        var partitions: [Int32] = []
        var retries = ConsumerRetries(consumer: "ledger")
        while partitions.isEmpty && !Task.isCancelled {
            do {
                partitions = try await client.partitions(of: topic)
            } catch {
                let wait = retries.failed(.request, reason: ConsumerRetries.reason(error))
                logger.warning("the payment-events topic is not readable yet; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: wait)
            }
        }
        let stored = try ledger.positions()
        var positions = Dictionary(uniqueKeysWithValues: partitions.map { (KafkaTopicPartition(topic, $0), stored[$0] ?? 0) })
        for partition in partitions { retries.register(.partition(partition)) }
        var pausedUntil: [KafkaTopicPartition: ContinuousClock.Instant] = [:]
        let counters = LedgerCounters()
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let active = positions.filter { (pausedUntil[$0.key] ?? now) <= now }
            guard !active.isEmpty else {
                try await Task.sleep(until: pausedUntil.values.min() ?? now + .milliseconds(100))
                continue
            }
            let fetched: [KafkaTopicPartition: Result<KafkaFetchResult, KafkaClientError>]
            do {
                fetched = try await client.fetchEach(active, maxWait: .milliseconds(500))
                retries.succeeded(.request)
            } catch {
                let wait = retries.failed(.request, reason: "fetch")
                logger.warning("fetching payment-events failed; retrying", metadata: ["error": "\(error)", "retry_in_ms": "\(Int(wait / .milliseconds(1)))"])
                try await Task.sleep(for: wait)
                continue
            }
            for (partition, outcome) in fetched.sorted(by: { $0.key.partition < $1.key.partition }) {
                guard let position = positions[partition] else { continue }
                do {
                    let result = try outcome.get()
                    guard !result.records.isEmpty || result.undecodable != nil else {
                        retries.succeeded(.partition(partition.partition))
                        continue
                    }
                    let (next, summary) = try await Self.post(result, from: position, ledger: ledger)
                    positions[partition] = next
                    pausedUntil[partition] = nil
                    retries.succeeded(.partition(partition.partition))
                    counters.record(summary)
                    if summary.conflicts > 0 || summary.deadLettered > 0 || summary.held > 0 {
                        logger.notice("payment-events records not posted", metadata: [
                            "partition": "\(partition.partition)", "offset": "\(position)", "next_offset": "\(next)",
                            "conflicts": "\(summary.conflicts)", "dead_lettered": "\(summary.deadLettered)", "held": "\(summary.held)"])
                    }
                    // The group's offset is for operators' tools; the ledger reads its own.
                    try? await client.commitOffsets(group: Self.group, [partition: KafkaOffsetAndMetadata(offset: next, metadata: "paynode ledger")])
                } catch {
                    let wait = retries.failed(.partition(partition.partition), reason: ConsumerRetries.reason(error))
                    pausedUntil[partition] = ContinuousClock.now + wait
                    logger.warning("posting payment-events failed; retrying from the same offset", metadata: [
                        "partition": "\(partition.partition)", "offset": "\(position)", "error": "\(error)",
                        "retry_in_ms": "\(Int(wait / .milliseconds(1)))"])
                }
            }
        }
    }
}

extension LedgerConsumer {
    /// Posts a fetched partition's records (and its undecodable batch, as a dead letter) in one
    /// transaction with the new position; records at or past `end` are left for later.
    static func post(_ result: KafkaFetchResult, from position: Int64, ledger: LedgerStore,
                     end: Int64 = .max) async throws -> (next: Int64, summary: LedgerBatchSummary) {
        let partition = result.topicPartition.partition
        let topic = result.topicPartition.topic
        var inputs = result.records.filter { $0.offset < end }.map { record in
            (record: record, input: PostingRules.input(record, source: EventSource(topic: topic, partition: partition, offset: record.offset)))
        }
        var next = min(result.nextOffset(after: position), end)
        if let batch = result.undecodable, batch.firstOffset < end {
            var bytes = batch.bytes
            let record = Record(offset: batch.firstOffset, timestamp: -1, key: nil, value: bytes.readBytes(length: bytes.readableBytes) ?? [],
                                headers: [])
            inputs.append((record, .undecodable(reason: "offsets \(batch.firstOffset)...\(batch.lastOffset): \(batch.reason)")))
            next = result.nextOffset(after: position)
        }
        let summary = try await ledger.apply(inputs, partition: partition, from: position, nextOffset: next,
                                             nowMilliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        return (next, summary)
    }
}

/// `paynode_ledger_transfers_total{outcome}`: what the ledger did with each payment-events record.
struct LedgerCounters: Sendable {
    static let outcomes = ["posted", "held", "released", "duplicate", "conflict", "dead_lettered", "ignored"]
    let counters: [String: Counter]

    init() {
        counters = Dictionary(uniqueKeysWithValues: Self.outcomes.map {
            ($0, Counter(label: "paynode_ledger_transfers_total", dimensions: [("outcome", $0)]))
        })
    }

    func record(_ summary: LedgerBatchSummary) {
        for (outcome, count) in [("posted", summary.posted), ("held", summary.held), ("released", summary.released),
                                 ("duplicate", summary.duplicates), ("conflict", summary.conflicts),
                                 ("dead_lettered", summary.deadLettered), ("ignored", summary.ignored)] where count > 0 {
            counters[outcome]?.increment(by: count)
        }
    }
}
