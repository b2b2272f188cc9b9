import Foundation
import KafkaClient
import NIOCore
import PaymentEvents
import Payments
import Protocol
import Telemetry
import W3CTraceContext

/// Produces PSP results straight into `psp-result-updates` for orders that already exist, as
/// the executor would (same key, value and schema headers), to measure the service's consumer
/// pipeline alone: result produced -> consumed -> state, history, payment event and offset
/// committed. Each order gets the results its token dictates (PENDING then SUCCESSFUL for
/// tok_pending), so the checker judges this mode like the full flow.
struct ResultDriver: Sendable {
    let producer: KafkaProducer
    let ledger: RunLedger
    /// Results in flight at once; the idempotent producer batches them per partition.
    let concurrency: Int

    func run(orders: [OrderEntry], schedule: LoadSchedule) async {
        let dispenser = IndexDispenser()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = dispenser.take()
                        let now = ledger.clock.now()
                        guard index < orders.count, schedule.includes(index, now: now) else { return }
                        let intended = schedule.intendedStart(of: index, now: now)
                        await sleep(until: intended, clock: ledger.clock)
                        ledger.setIntendedAt(orders[index].paymentOrderId, intended)
                        await sendResults(for: orders[index])
                    }
                }
            }
        }
    }

    private func sendResults(for order: OrderEntry) async {
        ledger.sent.add(1, ordering: .relaxed)
        // As the executor's records do: each result continues its payment's trace.
        let traceContext = TraceContext.newRoot()
        for status in TokenExpectation.forToken(order.token).resultStatuses {
            let event = Self.resultEvent(for: order, status: status, eventTime: EventTime.nowUnixMilliseconds())
            do {
                let encoded = try EventEnvelope.encode(event)
                var headers = encoded.headers
                headers.setTraceContext(traceContext)
                _ = try await producer.send(topic: PaymentTopics.pspResultUpdates, key: Array(order.paymentOrderId.utf8),
                                            value: encoded.value, headers: headers)
                ledger.resultsProduced.add(1, ordering: .relaxed)
            } catch {
                ledger.failures.add(1, ordering: .relaxed)
                FileHandle.standardError.write(Data("producing a result for \(order.paymentOrderId) failed: \(error)\n".utf8))
                return
            }
        }
    }
}

extension ResultDriver {
    /// The PSP result the executor would publish for `order` with `status`.
    static func resultEvent(for order: OrderEntry, status: String, eventTime: Int64) -> Paynode_Events_V1_PspResultUpdateEvent {
        let expectation = TokenExpectation.forToken(order.token)
        var event = Paynode_Events_V1_PspResultUpdateEvent()
        event.paymentOrderID = order.paymentOrderId
        event.psp = order.index % 2 == 0 ? "stripe" : "adyen"
        event.pspStatus = switch status {
        case "SUCCESSFUL": .successful
        case "PENDING": .pending
        default: .failed
        }
        event.pspReference = "pi_load_\(order.index)"
        if status == "FAILED", let code = expectation.errorCode {
            event.errorCode = code
            event.errorMessage = "loadtest: \(code)"
        }
        event.eventTimeUnixMs = eventTime
        return event
    }
}

/// The pipeline mode at full speed: every result is encoded, as record batches with the
/// idempotent producer's id, epoch and sequence numbers, before the clock starts; the batches go
/// out one in flight per partition (`KafkaClient.produce(encodedBatch:to:)`, as an outbox
/// re-sends), and a retried batch is deduplicated by the broker.
///
/// Why not `ResultDriver`: one `send` per result through the producer actor cost the load
/// generator about 15 µs of CPU per result, as much as the service spends processing it, so on
/// a 2-core machine the generator, not the node, set the figure (67k/s with both cores full).
struct BulkResultDriver: Sendable {
    struct Chunk: Sendable {
        var batch: ByteBuffer
        var records: Int
        /// The orders whose first result is in this chunk: their latency starts when it is sent.
        var firstResultOf: [String]
    }

    /// About 260 KB per batch with the loadtest's results: far below the broker's batch limit.
    static let recordsPerBatch = 2000

    let client: KafkaClient
    let ledger: RunLedger
    /// Per partition of `psp-result-updates`, in send order.
    let chunks: [[Chunk]]

    /// Encodes every order's results (in order index order) into batches of `recordsPerBatch`.
    static func prepare(orders: [OrderEntry], client: KafkaClient, ledger: RunLedger, recordsPerBatch: Int) async throws -> BulkResultDriver {
        let partitionCount = try await client.partitionCount(for: PaymentTopics.pspResultUpdates)
        let producer = try await client.initProducerId()
        var records = Array(repeating: [Record](), count: partitionCount)
        var firsts = Array(repeating: [(recordIndex: Int, order: String)](), count: partitionCount)
        let eventTime = EventTime.nowUnixMilliseconds()
        for order in orders {
            let key = Array(order.paymentOrderId.utf8)
            let partition = Int(KafkaPartitioner.partition(forKey: key, partitionCount: partitionCount))
            firsts[partition].append((records[partition].count, order.paymentOrderId))
            let traceContext = TraceContext.newRoot()
            for status in TokenExpectation.forToken(order.token).resultStatuses {
                let encoded = try EventEnvelope.encode(ResultDriver.resultEvent(for: order, status: status, eventTime: eventTime))
                // As the executor's records do: each result continues its payment's trace.
                var headers = encoded.headers
                headers.setTraceContext(traceContext)
                records[partition].append(Record(timestamp: eventTime, key: key, value: encoded.value, headers: headers))
            }
        }
        let chunks = try (0..<partitionCount).map { partition in
            var firstIndex = 0
            return try stride(from: 0, to: records[partition].count, by: recordsPerBatch).map { start in
                let end = min(start + recordsPerBatch, records[partition].count)
                var first: [String] = []
                while firstIndex < firsts[partition].count, firsts[partition][firstIndex].recordIndex < end {
                    first.append(firsts[partition][firstIndex].order)
                    firstIndex += 1
                }
                let batch = try RecordBatch.encode(records: Array(records[partition][start..<end]), producerId: producer.producerId,
                                                   producerEpoch: producer.epoch, baseSequence: Int32(start))
                return Chunk(batch: batch, records: end - start, firstResultOf: first)
            }
        }
        return BulkResultDriver(client: client, ledger: ledger, chunks: chunks)
    }

    func run(schedule: LoadSchedule) async {
        await withTaskGroup(of: Void.self) { group in
            for (partition, chunks) in chunks.enumerated() {
                group.addTask {
                    for chunk in chunks {
                        let now = ledger.clock.now()
                        guard now < schedule.end else { return }
                        ledger.setIntendedAt(chunk.firstResultOf, now)
                        ledger.sent.add(chunk.firstResultOf.count, ordering: .relaxed)
                        guard await send(chunk, partition: Int32(partition), until: schedule.end) else {
                            ledger.failures.add(chunk.firstResultOf.count, ordering: .relaxed)
                            return
                        }
                        ledger.resultsProduced.add(chunk.records, ordering: .relaxed)
                    }
                }
            }
        }
    }

    /// Sends one batch until it is acknowledged (re-sent unchanged after a lost answer or a
    /// node restart; the broker answers a duplicate with its original offset).
    private func send(_ chunk: Chunk, partition: Int32, until end: UInt64) async -> Bool {
        let target = KafkaTopicPartition(PaymentTopics.pspResultUpdates, partition)
        var attempt = 0
        while true {
            do {
                _ = try await client.produce(encodedBatch: chunk.batch, to: target)
                return true
            } catch {
                attempt += 1
                // Give up only long after the load window: faults may keep the node down a while.
                if ledger.clock.now() > end + 60_000_000 {
                    FileHandle.standardError.write(Data("producing a batch to \(target) failed for good: \(error)\n".utf8))
                    return false
                }
                try? await Task.sleep(for: .milliseconds(min(1000, 50 * attempt)))
            }
        }
    }
}
