#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore
import Protocol

/// An idempotent Kafka producer. Concurrent `send` calls to one partition are batched into one
/// record batch (up to the configured records, bytes and linger); each partition has at most
/// one batch in flight, and batches of different partitions share Produce requests.
///
/// Idempotence: the producer gets a producer id and epoch (InitProducerId) and numbers each
/// partition's records. A retried batch is re-sent byte for byte with the same sequence, so the
/// broker deduplicates it if an earlier attempt was written. When the broker reports
/// OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID or INVALID_PRODUCER_EPOCH, the producer
/// takes a new producer id; the batch is sent again under it only if no earlier attempt can
/// have reached the log, and otherwise its sends fail with `.deliveryUncertain` (never a silent
/// duplicate). `exportState()` and `init(state:)` carry the id and sequences across restarts.
public actor KafkaProducer {
    public typealias Delivery = (partition: Int32, offset: Int64)
    typealias Waiter = CheckedContinuation<Delivery, any Error>

    /// A batch that was drained from the accumulator: sent, or waiting to be retried.
    struct ProducerBatch {
        var partition: KafkaTopicPartition
        var records: [Record]
        var waiters: [Waiter]
        var producerId: Int64 = -1
        var baseSequence: Int32 = -1
        var encoded = ByteBuffer()
        var firstSent: ContinuousClock.Instant
        var attempts = 0
        /// An attempt ended without a broker answer (connection lost, timeout): it may be in the log.
        var possiblyWritten = false
    }

    public nonisolated let configuration: KafkaProducerConfiguration
    private let client: KafkaClient
    private var state: ProducerState
    private var accumulator: KafkaRecordAccumulator<Waiter>
    private var inFlight: [KafkaTopicPartition: ProducerBatch] = [:]
    /// Batches refused for their sequence that never reached the log: re-sent under a new producer id.
    private var awaitingNewProducerId: [KafkaTopicPartition: ProducerBatch] = [:]
    private var partitionCache: [String: [Int32]] = [:]
    private var roundRobin: [String: Int] = [:]
    private var initializing = false
    private var needsNewProducerId = false
    private var lingerTask: Task<Void, Never>?
    private var lingerDeadline: ContinuousClock.Instant?
    private var flushRequests = 0
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var isClosed = false

    /// `state` resumes a previous producer (see `exportState()`); nil asks the broker for a new id.
    public init(client: KafkaClient, configuration: KafkaProducerConfiguration = .init(),
                state: ProducerState? = nil) throws(KafkaClientError) {
        try configuration.validate()
        self.client = client
        self.configuration = configuration
        self.state = state ?? ProducerState()
        self.accumulator = KafkaRecordAccumulator(limits: .init(maxRecords: configuration.maxBatchRecords,
                                                                maxBytes: configuration.maxBatchBytes,
                                                                linger: configuration.linger))
    }

    /// The producer id, epoch and next sequence per partition, to persist and pass to
    /// `init(state:)` after a restart. Sequences of batches in flight count as used.
    public func exportState() -> ProducerState { state }

    /// Sends one record and waits until the broker acknowledged it. The partition is
    /// `partition` if given, else murmur2 of the key (as Kafka's Java client), else round-robin.
    public func send(topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8]?,
                     headers: [RecordHeader] = [], timestamp: Int64? = nil) async throws -> Delivery {
        guard !isClosed else { throw KafkaClientError(.shutDown, "the producer is closed", topic: topic) }
        let target = KafkaTopicPartition(topic, try await choosePartition(topic: topic, explicit: partition, key: key))
        guard !isClosed else { throw KafkaClientError(.shutDown, "the producer is closed", topic: topic) }
        let record = Record(timestamp: timestamp ?? Self.currentTimeMilliseconds(), key: key, value: value, headers: headers)
        return try await withCheckedThrowingContinuation { waiter in
            accumulator.append(record, token: waiter, to: target, now: .now)
            drain()
        }
    }

    /// Sends everything waiting (ignoring linger) and returns once no send is outstanding.
    public func flush() async {
        flushRequests += 1
        drain()
        await withCheckedContinuation { waiter in
            if isIdle { waiter.resume() } else { idleWaiters.append(waiter) }
        }
        flushRequests -= 1
    }

    /// Flushes, then refuses new sends. The client stays open (it belongs to the caller).
    public func close() async {
        isClosed = true
        await flush()
        lingerTask?.cancel()
        lingerTask = nil
    }

    // MARK: Partitioning

    private func choosePartition(topic: String, explicit: Int32?, key: [UInt8]?) async throws -> Int32 {
        let partitions: [Int32]
        if let cached = partitionCache[topic] {
            partitions = cached
        } else {
            partitions = try await client.partitions(of: topic)
            partitionCache[topic] = partitions
        }
        if let explicit {
            guard partitions.contains(explicit) else {
                throw KafkaClientError(.invalidArgument, "the topic has \(partitions.count) partitions", topic: topic, partition: explicit)
            }
            return explicit
        }
        if let key {
            return KafkaPartitioner.partition(forKey: key, partitionCount: partitions.count)
        }
        let counter = roundRobin[topic, default: 0]
        roundRobin[topic] = counter &+ 1
        return partitions[counter % partitions.count]
    }

    // MARK: Sending

    private var isIdle: Bool { accumulator.isIdle && inFlight.isEmpty && awaitingNewProducerId.isEmpty }

    /// Starts whatever may be sent now: batches waiting for a new producer id, then ready
    /// partitions. Schedules the next linger wake-up and wakes flushers when all is done.
    private func drain() {
        defer { resumeIdleWaitersIfIdle() }
        if configuration.idempotent, !state.hasProducerId || needsNewProducerId {
            if !isIdle { startInitProducerId() }
            return
        }
        var ready: [KafkaTopicPartition] = []
        for (partition, batch) in awaitingNewProducerId.sorted(by: { $0.key < $1.key }) {
            awaitingNewProducerId[partition] = nil
            if let built = build(batch) {
                inFlight[partition] = built
                ready.append(partition)
            }
        }
        let now = ContinuousClock.now
        for drained in accumulator.drain(now: now, flush: flushRequests > 0) {
            let batch = ProducerBatch(partition: drained.partition, records: drained.records, waiters: drained.tokens, firstSent: now)
            if let built = build(batch) {
                inFlight[drained.partition] = built
                ready.append(drained.partition)
            }
        }
        if !ready.isEmpty {
            Task { await self.transmit(ready) }
        }
        scheduleLinger()
    }

    /// Numbers (when idempotent) and encodes a batch; on failure fails its sends.
    private func build(_ batch: ProducerBatch) -> ProducerBatch? {
        var batch = batch
        var epoch: Int16 = -1
        if configuration.idempotent {
            batch.producerId = state.producerId
            epoch = state.producerEpoch
            batch.baseSequence = state.reserveSequences(Int32(batch.records.count), for: batch.partition)
        }
        do {
            batch.encoded = try RecordBatch.encode(records: batch.records, producerId: batch.producerId, producerEpoch: epoch,
                                                   baseSequence: batch.baseSequence, compression: configuration.compression)
            return batch
        } catch {
            if configuration.idempotent { state.nextSequences[batch.partition] = batch.baseSequence }
            finish(batch, .failure(KafkaClientError(.invalidArgument, "cannot encode the record batch: \(error)",
                                                    topic: batch.partition.topic, partition: batch.partition.partition)))
            return nil
        }
    }

    /// One Produce request carrying the in-flight batches of `partitions`.
    private func transmit(_ partitions: [KafkaTopicPartition]) async {
        let batches = partitions.compactMap { inFlight[$0] }
        guard !batches.isEmpty else { return }
        do {
            let outcomes = try await client.produceEncoded(batches.map { ($0.partition, $0.encoded) },
                                                           acks: configuration.acks.rawValue, timeout: configuration.requestTimeout)
            for batch in batches {
                switch outcomes?[batch.partition] {
                case nil:
                    succeed(batch.partition, baseOffset: -1)  // acks=0: no answer exists
                case .success(let baseOffset)?:
                    succeed(batch.partition, baseOffset: baseOffset)
                case .failure(let error)?:
                    // A missing partition in the answer leaves the batch's fate unknown.
                    failed(batch.partition, error, possiblyWritten: error.code == .protocolViolation)
                }
            }
        } catch {
            var wrapped = (error as? KafkaClientError) ?? KafkaClientError(.connectionClosed, "\(error)")
            // Without an answer the request may have been processed; a failed connect was never sent.
            let maybeWritten = [.connectionClosed, .requestTimedOut, .protocolViolation].contains(wrapped.code)
            for batch in batches {
                wrapped.topic = batch.partition.topic
                wrapped.partition = batch.partition.partition
                failed(batch.partition, wrapped, possiblyWritten: maybeWritten)
            }
        }
        drain()
    }

    private func succeed(_ partition: KafkaTopicPartition, baseOffset: Int64) {
        guard let batch = inFlight.removeValue(forKey: partition) else { return }
        finish(batch, .success(baseOffset))
    }

    private func failed(_ partition: KafkaTopicPartition, _ error: KafkaClientError, possiblyWritten: Bool) {
        guard var batch = inFlight.removeValue(forKey: partition) else { return }
        batch.attempts += 1
        batch.possiblyWritten = batch.possiblyWritten || possiblyWritten
        let current = configuration.idempotent && batch.producerId == state.producerId
        let expired = ContinuousClock.now >= batch.firstSent + configuration.deliveryTimeout

        let sequenceErrors: [KafkaErrorCode] = [.outOfOrderSequenceNumber, .unknownProducerId, .invalidProducerEpoch]
        if configuration.idempotent, let code = error.kafkaError, sequenceErrors.contains(code) {
            // The broker's view of our sequence differs from ours: take a new producer id.
            if current { needsNewProducerId = true }
            if batch.possiblyWritten {
                finish(batch, .failure(KafkaClientError(
                    .deliveryUncertain,
                    "\(code) after \(batch.attempts) attempts, an earlier one of which got no answer: the batch may already be in the log, so it is not sent again (\(error.message))",
                    kafkaErrorCode: code.rawValue, broker: error.broker, topic: partition.topic, partition: partition.partition)))
            } else if expired {
                finish(batch, .failure(error))
            } else {
                // Never written: safe to send again under the new producer id.
                awaitingNewProducerId[partition] = batch
            }
            return
        }
        if error.isRetriable, !expired {
            inFlight[partition] = batch
            let delay = configuration.retryBackoff.delay(attempt: batch.attempts - 1)
            Task {
                try? await Task.sleep(for: delay)
                await self.transmit([partition])
            }
            return
        }
        if batch.possiblyWritten {
            if current { needsNewProducerId = true }
            finish(batch, .failure(KafkaClientError(
                .deliveryUncertain,
                "gave up after \(batch.attempts) attempts; an attempt got no answer, so the batch may be in the log: \(error.message)",
                kafkaErrorCode: error.kafkaErrorCode, broker: error.broker, topic: partition.topic, partition: partition.partition)))
        } else {
            // Refused outright: its sequence numbers were not used.
            if current { state.nextSequences[partition] = batch.baseSequence }
            finish(batch, .failure(error))
        }
    }

    /// Completes a batch's sends and frees its partition for the next batch.
    private func finish(_ batch: ProducerBatch, _ outcome: Result<Int64, KafkaClientError>) {
        switch outcome {
        case .success(let baseOffset):
            for (index, waiter) in batch.waiters.enumerated() {
                waiter.resume(returning: (batch.partition.partition, baseOffset < 0 ? -1 : baseOffset + Int64(index)))
            }
        case .failure(let error):
            for waiter in batch.waiters { waiter.resume(throwing: error) }
        }
        accumulator.complete(batch.partition)
    }

    private func resumeIdleWaitersIfIdle() {
        guard isIdle, !idleWaiters.isEmpty else { return }
        let waiters = idleWaiters
        idleWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Producer id

    private func startInitProducerId() {
        guard !initializing else { return }
        initializing = true
        Task { await self.initProducerId() }
    }

    private func initProducerId() async {
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            do {
                let identity = try await client.initProducerId(timeout: configuration.requestTimeout)
                state = ProducerState(producerId: identity.producerId, producerEpoch: identity.epoch)
                needsNewProducerId = false
                initializing = false
                drain()
                return
            } catch {
                let wrapped = (error as? KafkaClientError) ?? KafkaClientError(.connectionClosed, "\(error)")
                if wrapped.isRetriable, ContinuousClock.now < started + configuration.deliveryTimeout {
                    try? await Task.sleep(for: configuration.retryBackoff.delay(attempt: attempt))
                    attempt += 1
                    continue
                }
                initializing = false
                let failure = KafkaClientError(.brokerError, "cannot get a producer id: \(wrapped.message)",
                                               kafkaErrorCode: wrapped.kafkaErrorCode, broker: wrapped.broker)
                for waiter in accumulator.removeAllPending() { waiter.resume(throwing: failure) }
                for batch in awaitingNewProducerId.values { finish(batch, .failure(failure)) }
                awaitingNewProducerId.removeAll()
                resumeIdleWaitersIfIdle()
                return
            }
        }
    }

    // MARK: Linger

    private func scheduleLinger() {
        guard let deadline = accumulator.nextLingerDeadline() else { return }
        if let scheduled = lingerDeadline, scheduled <= deadline { return }
        lingerTask?.cancel()
        lingerDeadline = deadline
        lingerTask = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            self.lingerExpired(deadline)
        }
    }

    private func lingerExpired(_ deadline: ContinuousClock.Instant) {
        guard lingerDeadline == deadline else { return }
        lingerDeadline = nil
        lingerTask = nil
        drain()
    }

    static func currentTimeMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
