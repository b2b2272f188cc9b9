import KafkaClient
import Logging
import LogStore
import Metrics
import PaymentEvents
import Payments
import Protocol
import Telemetry
import W3CTraceContext

/// Sends the executor's outbox to `psp-result-updates`: per partition, the next sealed batch
/// (see `OutboxPlan.nextBatch`) with exactly its stored producer id, epoch and base sequence;
/// when the broker acknowledges it, the batch is deleted (and its results marked published) in
/// the same transaction that seals the next one.
///
/// One batch per partition is in flight, and the next is sealed only after the previous one's
/// deletion committed, so the unacknowledged batches that may already be in the log are always
/// among the broker's last five per producer and partition: a re-send after a lost answer, a
/// broker restart or an executor crash is answered as a duplicate with the original offsets.
actor OutboxSender {
    let store: LogStore
    let client: KafkaClient
    let partitions: [Int32]
    let limits: OutboxPlan.Limits
    let retryBackoff = KafkaBackoff(initial: .milliseconds(50), maximum: .seconds(5))
    let requestTimeout: Duration = .seconds(30)
    let logger: Logger
    private nonisolated let wakeups: [Int32: AsyncStream<Void>.Continuation]
    private var streams: [Int32: AsyncStream<Void>]

    /// `paynode_executor_outbox_quarantined_total`: entries moved aside because they could not be read.
    private let quarantinedEntries = Counter(label: "paynode_executor_outbox_quarantined_total")

    private var producer: (id: Int64, epoch: Int16)
    /// Bumped by each re-initialization: a batch read under an older generation is stale.
    private var generation = 0
    private var reinitializing = false
    /// Sends (with their acknowledgement's write) not finished yet; re-numbering waits for zero.
    private var sendsInFlight = 0
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var reinitializedWaiters: [CheckedContinuation<Void, Never>] = []

    init(store: LogStore, client: KafkaClient, partitions: [Int32], producer: (id: Int64, epoch: Int16),
         limits: OutboxPlan.Limits = .init(), logger: Logger) {
        self.store = store
        self.client = client
        self.partitions = partitions
        self.producer = producer
        self.limits = limits
        self.logger = logger
        var wakeups: [Int32: AsyncStream<Void>.Continuation] = [:]
        var streams: [Int32: AsyncStream<Void>] = [:]
        for partition in partitions {
            let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            wakeups[partition] = continuation
            streams[partition] = stream
        }
        self.wakeups = wakeups
        self.streams = streams
    }

    /// Tells `partition`'s sender that the outbox has something new (after the commit).
    nonisolated func wake(_ partition: Int32) {
        wakeups[partition]?.yield()
    }

    /// Runs every partition's sender until cancelled.
    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for partition in partitions {
                group.addTask { try await self.runPartition(partition) }
            }
            try await group.waitForAll()
        }
    }

    private func runPartition(_ partition: Int32) async throws {
        guard let stream = streams.removeValue(forKey: partition) else { return }
        var wakeup = stream.makeAsyncIterator()
        let topicPartition = KafkaTopicPartition(PaymentTopics.pspResultUpdates, partition)
        var failures = 0
        var next: (key: [UInt8], entry: OutboxEntry)?
        // The generation `next` was read under: a batch read before a re-numbering is stale.
        var nextGeneration = generation
        while !Task.isCancelled {
            await waitWhileReinitializing()
            if next == nil || nextGeneration != generation {
                nextGeneration = generation
                do {
                    next = try await nextBatch(partition)
                } catch is OutboxEntryUnreadable {
                    try await quarantineUnreadable()
                    continue
                }
            }
            guard let batch = next else {
                _ = await wakeup.next()  // nil only when cancelled
                continue
            }
            guard nextGeneration == generation, !reinitializing else { next = nil; continue }

            // Counted until the acknowledgement is written, so a re-numbering never overlaps it.
            sendsInFlight += 1
            do {
                let baseOffset = try await client.produce(batch.entry.records.map(\.kafkaRecord), to: topicPartition,
                                                          producer: batch.entry.fields, timeout: requestTimeout)
                next = try await store.write { transaction in
                    try OutboxStore.acknowledge(key: batch.key, batch: batch.entry, in: transaction)
                    return try OutboxStore.sealNext(partition: partition, limits: self.limits, in: transaction)
                }
                finishedSend()
                published(batch.entry, partition: partition, baseOffset: baseOffset)
                failures = 0
            } catch let error as KafkaClientError {
                finishedSend()
                failures += 1
                Counter(label: "paynode_records_published_total",
                        dimensions: [("topic", PaymentTopics.pspResultUpdates), ("outcome", "failed")]).increment(by: batch.entry.records.count)
                switch OutboxPlan.action(for: error) {
                case .reinitializeProducer:
                    next = nil
                    try await reinitialize(after: batch.entry.fields, cause: error)
                case .retry:
                    logger.warning("publishing PSP results failed; re-sending the same batch", metadata: [
                        "partition": "\(partition)", "records": "\(batch.entry.records.count)", "error": "\(error)"])
                    try await Task.sleep(for: retryBackoff.delay(attempt: failures - 1))
                case .retryLoudly:
                    logger.error("the broker refuses a batch of PSP results; retrying, results are kept in the outbox", metadata: [
                        "partition": "\(partition)", "records": "\(batch.entry.records.count)", "error": "\(error)"])
                    Counter(label: "paynode_executor_outbox_refused_total").increment()
                    try await Task.sleep(for: retryBackoff.maximum)
                }
            } catch is OutboxEntryUnreadable {
                // Sealing the next batch met a damaged entry; the acknowledgement rolled back
                // with it, so the sent batch goes again (deduplicated) after the quarantine.
                finishedSend()
                next = nil
                try await quarantineUnreadable()
            } catch {
                // A store failure (or cancellation): the outbox is unchanged, so re-read it.
                finishedSend()
                next = nil
                if Task.isCancelled { return }
                failures += 1
                logger.error("outbox step failed; retrying", metadata: ["partition": "\(partition)", "error": "\(error)"])
                try await Task.sleep(for: retryBackoff.delay(attempt: failures - 1))
            }
        }
    }

    /// The partition's next batch: a sealed head as stored, else a merge sealed in a write.
    private func nextBatch(_ partition: Int32) async throws -> (key: [UInt8], entry: OutboxEntry)? {
        let head = try store.read { try OutboxStore.pending(partition: partition, in: $0.table(OutboxStore.entries), limit: 1) }
        guard let first = head.first else { return nil }
        if first.entry.sealed { return first }
        return try await store.write { try OutboxStore.sealNext(partition: partition, limits: self.limits, in: $0) }
    }

    /// An outbox entry cannot be read: move every such entry aside and requeue their results
    /// from the attempts journal (`OutboxStore.quarantineUnreadable`), then wake every partition.
    private func quarantineUnreadable() async throws {
        let outcome = try await store.write { [partitions] transaction in
            try OutboxStore.quarantineUnreadable(partitionCount: partitions.count, in: transaction)
        }
        for entry in outcome.quarantined {
            logger.error("an outbox entry cannot be read; moved it to \(OutboxStore.quarantine) and requeued the results it held from the attempts journal", metadata: [
                "partition": "\(entry.partition)", "serial": "\(entry.serial)", "reason": "\(entry.reason)",
                "requeued_results": "\(outcome.requeued)"])
        }
        quarantinedEntries.increment(by: outcome.quarantined.count)
        for partition in partitions { wake(partition) }
    }

    private func published(_ batch: OutboxEntry, partition: Int32, baseOffset: Int64) {
        Counter(label: "paynode_records_published_total",
                dimensions: [("topic", PaymentTopics.pspResultUpdates), ("outcome", "acknowledged")]).increment(by: batch.records.count)
        guard logger.logLevel <= .info else { return }
        for (index, record) in batch.records.enumerated() {
            // The line carries what an operator searches by: trace id, order, PSP reference.
            let traceparent = record.headers.last { $0.key == "traceparent" }?.value.map { String(decoding: $0, as: UTF8.self) }
            let traceId = TraceContext(traceparent: traceparent)?.traceIDHex ?? "-"
            var metadata: Logger.Metadata = [
                "trace_id": "\(traceId)", "paymentOrderId": "\(record.paymentOrderId)", "topic": "\(PaymentTopics.pspResultUpdates)",
                "partition": "\(partition)", "offset": "\(baseOffset + Int64(index))",
                "sequence": "\(ProducerState.increment(batch.baseSequence, by: Int32(index)))"]
            let reference: String?
            let status: String?
            if record.attemptKey != record.paymentOrderId {
                // A refund's result: its attempt key is the refund id.
                let event = try? EventEnvelope.decodeValue(Paynode_Events_V1_PspRefundResultEvent.self, value: Array(record.value))
                metadata["refundId"] = "\(record.attemptKey)"
                (reference, status) = (event.flatMap { $0.hasPspReference ? $0.pspReference : nil }, event.map { "\($0.pspStatus)" })
            } else {
                let event = try? EventEnvelope.decodeValue(Paynode_Events_V1_PspResultUpdateEvent.self, value: Array(record.value))
                (reference, status) = (event.flatMap { $0.hasPspReference ? $0.pspReference : nil }, event.map { "\($0.pspStatus)" })
            }
            metadata["pspReference"] = "\(reference ?? "-")"
            metadata["status"] = "\(status ?? "-")"
            logger.info(record.attemptKey != record.paymentOrderId ? "published PSP refund result" : "published PSP result", metadata: metadata)
        }
    }

    // MARK: Re-initialization

    private func finishedSend() {
        sendsInFlight -= 1
        if sendsInFlight == 0 {
            let waiters = idleWaiters
            idleWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    private func waitWhileReinitializing() async {
        while reinitializing {
            await withCheckedContinuation { reinitializedWaiters.append($0) }
        }
    }

    /// The broker no longer knows our producer state as we do (UNKNOWN_PRODUCER_ID, fencing,
    /// OUT_OF_ORDER_SEQUENCE_NUMBER): after every partition's send finished, take a new
    /// producer id and re-number the whole outbox from sequence 0 in one transaction. Nothing
    /// is lost; a batch whose earlier attempt reached the log may appear twice (it cannot be
    /// deduplicated under a new producer id), which the service answers as a duplicate.
    private func reinitialize(after failed: KafkaProducerFields, cause: KafkaClientError) async throws {
        await waitWhileReinitializing()
        guard failed.producerId == producer.id, failed.producerEpoch == producer.epoch else { return }  // already done
        reinitializing = true
        defer {
            reinitializing = false
            let waiters = reinitializedWaiters
            reinitializedWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
        while sendsInFlight > 0 {
            await withCheckedContinuation { idleWaiters.append($0) }
        }
        var attempt = 0
        while true {
            do {
                let identity = try await client.initProducerId(timeout: requestTimeout)
                let renumbered = try await store.write { transaction in
                    try OutboxStore.renumberAll(producerId: identity.producerId, producerEpoch: identity.epoch, in: transaction)
                }
                logger.error("the broker lost or refused the executor's producer state; took a new producer id and re-numbered the outbox (a result sent before may appear twice in psp-result-updates)", metadata: [
                    "cause": "\(cause)", "old_producer_id": "\(failed.producerId)", "old_epoch": "\(failed.producerEpoch)",
                    "producer_id": "\(identity.producerId)", "epoch": "\(identity.epoch)", "outbox_entries": "\(renumbered)"])
                Counter(label: "paynode_executor_producer_reinitialized_total",
                        dimensions: [("reason", cause.kafkaError.map { "\($0)" } ?? "\(cause.kafkaErrorCode ?? -1)")]).increment()
                producer = (identity.producerId, identity.epoch)
                generation += 1
                return
            } catch is OutboxEntryUnreadable {
                // Re-numbering met a damaged entry: move it aside, then re-number what is left.
                try await quarantineUnreadable()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                logger.warning("cannot re-initialize the producer yet; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: retryBackoff.delay(attempt: attempt))
                attempt += 1
            }
        }
    }
}
