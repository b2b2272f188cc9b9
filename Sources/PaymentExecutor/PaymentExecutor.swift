import Foundation
import KafkaClient
import Logging
import LogStore
import Metrics
import PaymentEvents
import Payments
import Protocol
import Telemetry
import Synchronization
import Tracing
import W3CTraceContext

/// PaymentOrderExecutor: consumes `payment-orders` from the service over the Kafka protocol,
/// calls the PSP with the payment order id as the PSP's idempotency key, and publishes each
/// result to `psp-result-updates` with the idempotent producer. It holds no payment state logic.
///
/// Its own LMDB store keeps, in one transaction each: the attempt journal entry together with
/// the consumer position (so an order is never skipped nor fetched twice into new work), and
/// each PSP result together with its outbox entry, whose producer id, epoch and sequence numbers
/// are reserved in that same transaction (a transactional outbox, see `OutboxSender`). After a
/// crash it repeats unfinished PSP calls (safe by the idempotency key) and re-sends the
/// outbox exactly as before, which the broker deduplicates: results appear once in the log.
public final class PaymentExecutor: Sendable {
    public struct Configuration: Sendable {
        public var maximumConcurrentPayments = 256
        public var pspRetries = 8
        public var pspBackoffMilliseconds: ClosedRange<Int> = 50...2000
        /// PENDING payments: the PSP's pace while young, then reconciliation (see `AttemptStages`).
        public var followUpPromptMilliseconds: Int64 = 60_000
        public var followUpFirstMilliseconds: Int64 = 60_000
        public var followUpMaximumMilliseconds: Int64 = 3_600_000
        public var followUpGiveUpMilliseconds: Int64 = 72 * 3_600_000
        /// A PENDING wait longer than this gives up its payment slot: the attempt is parked and
        /// resumed when due, so slow settlements cannot starve new payments.
        public var parkAfterMilliseconds = 5_000
        /// At most this many parked payments (memory); past it a payment waits in its slot,
        /// which slows new payments down rather than growing without bound.
        public var maximumParkedPayments = 100_000
        /// The bound of a dead letter's value and key (`DeadLetter`).
        public var deadLetterLimit = DeadLetter.defaultLimit
        public init() {}
    }

    enum Tables {
        static let positions = "executor.positions"
        static let attempts = "executor.attempts"
    }

    /// One order's progress, journaled before and after every outside call.
    struct Attempt: Equatable, Sendable {
        /// `queued`: the last result (PENDING) is journaled with its outbox entry; a final result
        /// settles the attempt in that same transaction.
        enum Stage: String, Sendable { case calling, queued, settled }
        var order: OrderToPay
        var stage: Stage
        var calls: Int = 0
        var results: [StoredResult] = []
        /// Results acknowledged by the broker (set by the outbox sender).
        var published = 0
        var lastError: String?
        var traceparent: String?
        /// The PSP's name for the charge as soon as the PSP gave it, before it moved money
        /// (`PspReferenceJournal`); nil until then and for PSPs that name a charge only in its answer.
        var pspReference: String?
        /// When the first PENDING result came (ms since the epoch): the follow-up schedule runs from it.
        var pendingSince: Int64?
        /// Reconciliation follow-ups done (past `FollowUpSchedule.promptMilliseconds`).
        var followUps: Int = 0
    }

    /// An order to charge, or one of its refunds (`refund` set; `amount` is the refund's).
    struct OrderToPay: Equatable, Sendable {
        var paymentOrderId: String
        var amount: Int64
        var currency: String
        var paymentMethod: String
        var psp: String
        var refund: RefundToPay? = nil

        /// The attempt's key in the journal and outbox: the order id, or the refund id.
        var journalKey: String { refund?.refundId ?? paymentOrderId }
    }

    struct RefundToPay: Equatable, Sendable {
        var refundId: String
        /// The PSP's id for the payment refunded.
        var paymentPspReference: String?
    }

    struct StoredResult: Equatable, Sendable {
        var status: PspStatus
        var pspReference: String?
        var errorCode: String?
        var errorMessage: String?
        var eventTime: Int64
        var retryAfterMilliseconds: Int64?
    }

    let store: LogStore
    let parked = ParkedPayments()
    let client: KafkaClient
    let producerClient: KafkaClient
    let psps: [String: any PaymentServiceProvider]
    let configuration: Configuration
    let logger: Logger
    /// Per PSP, made once: a metric handle costs a registry lookup under a lock.
    private let pspMetrics: [String: PSPCallMetrics]
    /// Looked up once: finding the bootstrapped tracer takes a lock and dynamic casts, three
    /// times per order otherwise (its spans, its PSP call, its result's send).
    private let tracer: any Tracer

    /// `producerClient` publishes results; give it its own connection so that sends do not
    /// queue behind the order fetches' long polls (nil: `client` does both).
    public init(store: LogStore, client: KafkaClient, producerClient: KafkaClient? = nil, psps: [any PaymentServiceProvider],
                configuration: Configuration = .init(), logger: Logger, tracer: any Tracer = InstrumentationSystem.tracer) {
        self.store = store
        self.client = client
        self.producerClient = producerClient ?? client
        self.psps = Dictionary(psps.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.configuration = configuration
        self.logger = logger
        self.tracer = tracer
        // Series exist from the start, so dashboards and alerts see zeros rather than gaps.
        self.pspMetrics = Dictionary(uniqueKeysWithValues: self.psps.keys.map { ($0, PSPCallMetrics(psp: $0)) })
        for outcome in ["acknowledged", "failed"] {
            _ = Counter(label: "paynode_records_published_total", dimensions: [("topic", PaymentTopics.pspResultUpdates), ("outcome", outcome)])
        }
    }

    /// Batches in the outbox waiting for the broker's acknowledgement (one LMDB stat, no scan):
    /// `paynode_executor_outbox_entries`, which should drain to 0 whenever the load pauses.
    public func outboxEntries() throws -> Int {
        try store.read { try $0.table(OutboxStore.entries)?.count() ?? 0 }
    }

    /// PENDING payments parked until their next follow-up.
    public var parkedPayments: Int { parked.count }

    /// Runs until cancelled: the producer identity and recovery first, then the outbox sender
    /// and the consume loop side by side.
    public func run() async throws {
        let partitions = try await producerClient.partitions(of: PaymentTopics.pspResultUpdates)
        let producer = try await prepareProducer()
        let outbox = OutboxSender(store: store, client: producerClient, partitions: partitions, producer: producer, logger: logger)
        let router = ResultRouter(partitionCount: partitions.count, outbox: outbox)
        let deadLetterPartitions = try await producerClient.partitions(of: PaymentTopics.orderDeadLetters).count
        let journal = try store.read { transaction in
            try ExecutorPoison.readJournal(transaction.table(Tables.attempts)?.scan() ?? [])
        }
        try await quarantine(journal.unreadable)
        let unfinished = journal.attempts.filter { $0.stage != .settled }
        if !unfinished.isEmpty {
            logger.notice("resuming unfinished payments after a restart", metadata: ["payments": "\(unfinished.count)"])
        }
        try await withThrowingTaskGroup(of: Void.self) { top in
            top.addTask { try await outbox.run() }
            top.addTask { try await self.consume(resuming: unfinished, router: router, deadLetterPartitions: deadLetterPartitions) }
            try await top.next()
            top.cancelAll()
        }
    }

    /// The outbox's producer identity: the stored one, kept as is across restarts (same id,
    /// same epoch, stored sequences), or a new one from the broker on the first start.
    private func prepareProducer() async throws -> (id: Int64, epoch: Int16) {
        if let stored = try store.read({ try OutboxStore.producerState($0.table(OutboxStore.producerTable)) }) {
            logger.info("resuming the outbox producer", metadata: ["producer_id": "\(stored.producerId)", "epoch": "\(stored.producerEpoch)"])
            return (stored.producerId, stored.producerEpoch)
        }
        let identity = try await producerClient.initProducerId()
        let state = OutboxProducerState(producerId: identity.producerId, producerEpoch: identity.epoch)
        let saved = try await store.write { transaction in
            // Another start may have raced us to it: the stored identity wins.
            if let existing = try OutboxStore.producerState(transaction.table(OutboxStore.producerTable)) { return existing }
            try OutboxStore.save(state, in: transaction)
            return state
        }
        logger.info("new outbox producer", metadata: ["producer_id": "\(saved.producerId)", "epoch": "\(saved.producerEpoch)"])
        return (saved.producerId, saved.producerEpoch)
    }

    /// Unreadable journal entries (a bug, a flipped byte, an entry from a newer release): each
    /// moved to the quarantine table with its key logged and counted, so that it is visible and
    /// not read (and failed on) again at every start. Its order is not resumed: the entry is
    /// kept for an operator, who can see from the PSP (idempotency key = the order id) and the
    /// service's order state what happened to it.
    private func quarantine(_ unreadable: [(key: [UInt8], value: [UInt8], reason: String)]) async throws {
        guard !unreadable.isEmpty else { return }
        for entry in unreadable {
            logger.error("quarantining an unreadable journal entry", metadata: [
                "paymentOrderId": "\(String(decoding: entry.key, as: UTF8.self))", "error": "\(entry.reason)",
                "table": "\(ExecutorPoison.quarantineTable)"])
        }
        try await store.write { transaction in
            for entry in unreadable { try ExecutorPoison.quarantine(key: entry.key, value: entry.value, in: transaction) }
        }
        Counter(label: ExecutorPoison.quarantinedMetric).increment(by: unreadable.count)
    }

    private func consume(resuming unfinished: [Attempt], router: ResultRouter, deadLetterPartitions: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            for attempt in unfinished {
                if running >= configuration.maximumConcurrentPayments { try await group.next(); running -= 1 }
                group.addTask { await self.pay(attempt, router: router) }
                running += 1
            }
            func launchDueFollowUps() async throws {
                for attempt in parked.due(nowMilliseconds: currentMilliseconds()) {
                    while running >= configuration.maximumConcurrentPayments { try await group.next(); running -= 1 }
                    group.addTask { await self.pay(attempt, router: router, afterWait: true) }
                    running += 1
                }
            }
            var positions = try await startingPositions()
            var retries = ConsumerRetries(consumer: "executor")
            // Partitions waiting out a failure (their own: the others go on), until when.
            var pausedUntil: [KafkaTopicPartition: ContinuousClock.Instant] = [:]
            while !Task.isCancelled {
                try await launchDueFollowUps()
                let now = ContinuousClock.now
                let active = positions.filter { (pausedUntil[$0.key] ?? now) <= now }
                guard !active.isEmpty else {
                    // Not past the next follow-up either: parked payments are not kept waiting.
                    try await Task.sleep(until: min(pausedUntil.values.min() ?? now + .milliseconds(100), now + .milliseconds(500)))
                    continue
                }
                let fetched: [KafkaTopicPartition: Result<KafkaFetchResult, KafkaClientError>]
                do {
                    fetched = try await client.fetchEach(active, maxWait: .milliseconds(500))
                    retries.succeeded(.request)
                } catch {
                    let wait = retries.failed(.request, reason: "fetch")
                    logger.warning("fetching payment orders failed; retrying", metadata: ["error": "\(error)", "retry_in_ms": "\(wait.milliseconds)"])
                    try await Task.sleep(for: wait)
                    continue
                }
                for (partition, outcome) in fetched.sorted(by: { $0.key.partition < $1.key.partition }) {
                    let attempts: [Attempt]
                    do {
                        let result = try outcome.get()
                        guard !result.records.isEmpty || result.undecodable != nil, let position = positions[partition] else {
                            retries.succeeded(.partition(partition.partition))
                            continue
                        }
                        attempts = try await journal(result, from: position, partition: partition, deadLetterPartitions: deadLetterPartitions)
                        positions[partition] = result.nextOffset(after: position)
                        retries.succeeded(.partition(partition.partition))
                        pausedUntil[partition] = nil
                    } catch {
                        // The broker's error for this partition (e.g. a storage error), or the
                        // dead letter / journal write failing: this partition waits and reads
                        // again from the same position; every other partition goes on.
                        let wait = retries.failed(.partition(partition.partition), reason: ConsumerRetries.reason(error))
                        pausedUntil[partition] = ContinuousClock.now + wait
                        logger.warning("consuming a payment-orders partition failed; retrying it from the same offset", metadata: [
                            "topic": "\(partition.topic)", "partition": "\(partition.partition)", "offset": "\(positions[partition] ?? -1)",
                            "error": "\(error)", "retry_in_ms": "\(wait.milliseconds)"])
                        continue
                    }
                    for attempt in attempts {
                        while running >= configuration.maximumConcurrentPayments { try await group.next(); running -= 1 }
                        group.addTask { await self.pay(attempt, router: router) }
                        running += 1
                    }
                }
            }
            group.cancelAll()
        }
    }

    private func startingPositions() async throws -> [KafkaTopicPartition: Int64] {
        let partitions = try await client.partitions(of: PaymentTopics.paymentOrders)
        return try store.read { transaction in
            var positions: [KafkaTopicPartition: Int64] = [:]
            for partition in partitions {
                let stored = try transaction.table(Tables.positions)?.get(UInt32(bitPattern: partition).bigEndianBytes)
                positions[KafkaTopicPartition(PaymentTopics.paymentOrders, partition)] = stored.flatMap { Int64(bigEndianBytes: $0) } ?? 0
            }
            return positions
        }
    }

    /// Journals the fetched orders and the new position in one transaction. What cannot be
    /// read (an undecodable batch, a record whose order event does not decode) is dead-lettered
    /// first and the position moves past it only once the broker acknowledged its dead letter.
    private func journal(_ result: KafkaFetchResult, from position: Int64, partition: KafkaTopicPartition,
                         deadLetterPartitions: Int) async throws -> [Attempt] {
        var attempts: [Attempt] = []
        var deadLetters: [Record] = []
        let limit = configuration.deadLetterLimit
        let records = result.records
        for record in records {
            do {
                let traceparent = record.headers.first { $0.key == "traceparent" }?.value.map { String(decoding: $0, as: UTF8.self) }
                attempts.append(Attempt(order: try Self.work(in: record), stage: .calling, traceparent: traceparent))
            } catch {
                logger.error("dead-lettering an undecodable payment order", metadata: [
                    "topic": "\(partition.topic)", "partition": "\(partition.partition)", "offset": "\(record.offset)", "error": "\(error)"])
                deadLetters.append(ExecutorPoison.deadLetter(record, reason: "undecodable payment order: \(error)",
                                                             partition: partition.partition, limit: limit))
            }
        }
        if let batch = result.undecodable {
            logger.error("dead-lettering an undecodable payment-orders batch", metadata: [
                "topic": "\(partition.topic)", "partition": "\(partition.partition)", "first_offset": "\(batch.firstOffset)",
                "last_offset": "\(batch.lastOffset)", "error": "\(batch.reason)"])
            deadLetters.append(ExecutorPoison.deadLetter(batch, partition: partition.partition, limit: limit))
        }
        if !deadLetters.isEmpty {
            let target = KafkaTopicPartition(PaymentTopics.orderDeadLetters,
                                             ExecutorPoison.deadLetterPartition(source: partition.partition, partitions: deadLetterPartitions))
            for chunk in ExecutorPoison.chunks(deadLetters) {
                // Not idempotent (no producer id): a retry after a lost answer may repeat a dead
                // letter, which its source offsets tell apart; it can never lose one.
                _ = try await producerClient.produce(chunk, to: target, producer: KafkaProducerFields(producerId: -1, producerEpoch: -1, baseSequence: -1))
            }
            Counter(label: ExecutorPoison.deadLettersMetric).increment(by: deadLetters.count)
        }
        let next = result.nextOffset(after: position)
        let decoded = attempts
        let encoded = decoded.map { (Array($0.order.journalKey.utf8), $0.encoded()) }
        return try await store.write { transaction in
            let table = try transaction.table(Tables.attempts)
            var fresh: [Attempt] = []
            for (index, (key, value)) in encoded.enumerated() where try table.get(key) == nil {
                try table.put(key, value)
                fresh.append(decoded[index])
            }
            try transaction.table(Tables.positions).put(UInt32(bitPattern: partition.partition).bigEndianBytes, next.bigEndianBytes)
            return fresh
        }
    }

    /// What a `payment-orders` record asks for: a charge (`PaymentOrderCreated`) or a refund
    /// (`RefundRequested`), by its schema header; anything else throws (a dead letter).
    static func work(in record: Record) throws -> OrderToPay {
        let schema = try EventEnvelope.schema(of: record.headers)
        if schema.messageName == Paynode_Events_V1_RefundRequested.protoMessageName {
            let event = try EventEnvelope.decode(Paynode_Events_V1_RefundRequested.self, value: record.value, headers: record.headers)
            guard let refundID = RefundID(event.refundID), refundID.paymentOrderID == PaymentOrderID(event.paymentOrderID),
                  event.amountMinor > 0 else {
                throw StoredRecordFormat.DecodingError(
                    description: "RefundRequested refund_id '\(event.refundID)' of payment_order_id '\(event.paymentOrderID)' for \(event.amountMinor) is not a valid refund")
            }
            return OrderToPay(paymentOrderId: event.paymentOrderID, amount: event.amountMinor, currency: event.currency, paymentMethod: "",
                              psp: event.psp, refund: RefundToPay(refundId: event.refundID,
                                                                  paymentPspReference: event.hasPaymentPspReference ? event.paymentPspReference : nil))
        }
        let event = try EventEnvelope.decode(Paynode_Events_V1_PaymentOrderCreated.self, value: record.value, headers: record.headers)
        return OrderToPay(paymentOrderId: event.paymentOrderID, amount: event.amountMinor, currency: event.currency,
                          paymentMethod: event.paymentMethod, psp: event.psp)
    }

    /// Drives one order to the end: PSP call(s), each result journaled with its outbox entry,
    /// PENDING follow-ups. What to do next is `AttemptStages`' decision; this performs it.
    /// Publication is the outbox sender's job; results of one order share a partition and the
    /// outbox keeps their order.
    /// `afterWait`: a parked PENDING payment whose follow-up is due (it calls the PSP at once).
    func pay(_ start: Attempt, router: ResultRouter, afterWait: Bool = false) async {
        let schedule = FollowUpSchedule(promptMilliseconds: configuration.followUpPromptMilliseconds,
                                        firstMilliseconds: configuration.followUpFirstMilliseconds,
                                        maximumMilliseconds: configuration.followUpMaximumMilliseconds,
                                        giveUpMilliseconds: configuration.followUpGiveUpMilliseconds)
        var stages = AttemptStages(start, maximumCalls: configuration.pspRetries, backoffMilliseconds: configuration.pspBackoffMilliseconds,
                                   followUps: schedule)
        let order = start.order
        // The consumer span of the order continues the service's trace and spans the PSP calls
        // and the hand-off of each result to the outbox.
        var parent = ServiceContext.topLevel
        parent.traceContext = TraceContext(traceparent: start.traceparent)
        let span = MessagingSpans.startSpan(MessagingSpans.name(.process, topic: PaymentTopics.paymentOrders), context: parent,
                                            ofKind: .consumer, tracer: tracer)
        if span.isRecording {
            span.attributes.merge(MessagingSpans.attributes(.process, topic: PaymentTopics.paymentOrders, key: order.paymentOrderId))
            span.attributes["paynode.payment_order_id"] = order.paymentOrderId
            span.attributes["paynode.psp"] = order.psp
            if let refund = order.refund { span.attributes["paynode.refund_id"] = refund.refundId }
        }
        defer { span.end() }
        let context = span.context
        // The order's ids go on each line it logs, built only when a line is logged (a Logger
        // with per-order metadata cost a dictionary per order at every level).
        let lines = OrderLogLines(logger: logger, paymentOrderId: order.paymentOrderId,
                                  traceContext: context.traceContext ?? parent.traceContext, refundId: order.refund?.refundId)
        do {
            var action = afterWait ? stages.waited() : stages.start(nowMilliseconds: currentMilliseconds())
            while true {
                switch action {
                case .callPSP(let operation, let call):
                    action = try await callPSP(&stages, operation: operation, call: call, context: context, lines: lines)
                case .backOff:
                    preconditionFailure("callPSP backs off itself, inside the failed call's span")
                case .queue(let first):
                    try await queue(stages.attempt, from: first, router: router, context: context)
                    if stages.attempt.results.last?.errorCode == AttemptStages.needsAttentionCode {
                        pspMetrics[order.psp]?.followUpsGivenUp.increment()
                        lines.logger.warning("reconciliation gave up: the PSP has not settled this payment; it stays PENDING for a person",
                                             metadata: lines.metadata(["psp": "\(order.psp)", "pspReference": "\(stages.knownReference ?? "-")"]))
                    }
                    action = stages.queued(nowMilliseconds: currentMilliseconds())
                case .waitForPending(let milliseconds):
                    if milliseconds > configuration.parkAfterMilliseconds,
                       parked.park(stages.attempt, dueAtMilliseconds: currentMilliseconds() + Int64(milliseconds),
                                   limit: configuration.maximumParkedPayments) {
                        // The journal holds the attempt as queued; the slot goes to other payments.
                        return
                    }
                    try await Task.sleep(for: .milliseconds(milliseconds))
                    action = stages.waited()
                case .save:
                    try await save(stages.attempt)
                    action = stages.saved()
                case .finished:
                    return
                }
            }
        } catch is CancellationError {
            return
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            lines.logger.error("payment could not be completed; it resumes at the next start", metadata: lines.metadata(["error": "\(error)"]))
        }
    }

    /// Journals the attempt with results `from...` placed in the outbox, in one transaction.
    /// Each result's producer span ends when its record is durable in the outbox: from then on
    /// the outbox sender delivers it (re-sends are deduplicated by the broker), so that commit is
    /// the send as far as the order's trace is concerned.
    private func queue(_ attempt: Attempt, from first: Int, router: ResultRouter, context: ServiceContext) async throws {
        let partition = router.partition(of: attempt.order.paymentOrderId)
        var spans: [any Span] = []
        let records = try (first..<attempt.results.count).map { index in
            let send = MessagingSpans.startSend(topic: PaymentTopics.pspResultUpdates, key: attempt.order.paymentOrderId, parent: context,
                                                tracer: tracer)
            if send.span.isRecording {
                send.span.attributes["messaging.destination.partition.id"] = "\(partition)"
                send.span.attributes["paynode.payment_order_id"] = attempt.order.paymentOrderId
                send.span.attributes["paynode.psp_status"] = attempt.results[index].status.rawValue
                if let reference = attempt.results[index].pspReference { send.span.attributes["paynode.psp_reference"] = reference }
            }
            spans.append(send.span)
            return try Self.outboxRecord(attempt, index: index, traceContext: send.traceContext)
        }
        defer { for span in spans { span.end() } }
        let key = Array(attempt.order.journalKey.utf8)
        // Queuing the first result: none of this order's results was ever in the outbox, so
        // the sender cannot have advanced the stored published count (no read-back needed).
        let mergePublished = first > 0
        try await store.write { transaction in
            try Self.put(attempt, key: key, in: transaction, mergingPublished: mergePublished)
            try OutboxStore.enqueue(records, partition: partition, in: transaction)
        }
        router.outbox.wake(partition)
    }

    /// One PSP call of `stages`' round, and the back-off after it when it fails: the call's span
    /// and `paynode_psp_call_seconds` cover both. Returns what `stages` decides next.
    private func callPSP(_ stages: inout AttemptStages, operation: AttemptStages.PSPOperation, call: Int, context: ServiceContext,
                         lines: OrderLogLines) async throws -> AttemptStages.Action {
        let order = stages.attempt.order
        guard let psp = psps[order.psp], let metrics = pspMetrics[psp.name], let id = PaymentOrderID(order.paymentOrderId) else {
            return stages.unknownPSP(nowMilliseconds: currentMilliseconds())
        }
        let started = ContinuousClock.now
        // One client span per call, so retries and their errors show in the trace.
        let span = MessagingSpans.startSpan("\(operation.rawValue) \(psp.name)", context: context, ofKind: .client, tracer: tracer)
        if span.isRecording {
            span.attributes["paynode.psp"] = psp.name
            span.attributes["paynode.psp.operation"] = operation.rawValue
            span.attributes["paynode.psp.call"] = call
            span.attributes["paynode.payment_order_id"] = order.paymentOrderId
        }
        defer {
            span.end()
            metrics.callSeconds.record(duration: ContinuousClock.now - started)
        }
        // A reference the PSP gives before it moves money is journaled at once (and then known to
        // the stages, whether or not the call goes on to answer).
        let recorded = RecordedReference()
        let snapshot = stages.attempt
        let store = self.store
        let journal = PspReferenceJournal(known: stages.knownReference) { reference in
            var named = snapshot
            named.pspReference = reference
            let journaled = named
            let key = Array(journaled.order.journalKey.utf8)
            try await store.write { try Self.put(journaled, key: key, in: $0, mergingPublished: true) }
            recorded.set(reference)
        }
        do {
            let answer: PspCallResult
            if let refund = order.refund {
                guard let refundID = RefundID(refund.refundId) else { return stages.unknownPSP(nowMilliseconds: currentMilliseconds()) }
                let request = PspRefund(refundID: refundID, amountMinor: order.amount, currency: order.currency,
                                        paymentPspReference: refund.paymentPspReference)
                answer = switch operation {
                case .retrieve: try await psp.retrieveRefund(request, pspReference: stages.knownReference)
                case .charge: try await psp.refund(request, journal: journal)
                }
            } else {
                let charge = PspCharge(paymentOrderID: id, amountMinor: order.amount, currency: order.currency, paymentMethod: order.paymentMethod)
                answer = switch operation {
                case .retrieve: try await psp.retrieve(charge, pspReference: stages.knownReference)
                case .charge: try await psp.charge(charge, journal: journal)
                }
            }
            if let reference = recorded.value { stages.referenceRecorded(reference) }
            metrics.calls[answer.status]?.increment()
            if span.isRecording {
                span.attributes["paynode.psp_status"] = answer.status.rawValue
                if let reference = answer.pspReference { span.attributes["paynode.psp_reference"] = reference }
                if let code = answer.errorCode { span.attributes["paynode.error_code"] = code }
            }
            lines.logger.debug("PSP answered", metadata: lines.metadata(["psp": "\(psp.name)", "status": "\(answer.status.rawValue)",
                                                                 "pspReference": "\(answer.pspReference ?? "-")", "call": "\(call)"]))
            return stages.answered(StoredResult(status: answer.status, pspReference: answer.pspReference, errorCode: answer.errorCode,
                                                errorMessage: answer.errorMessage, eventTime: currentMilliseconds(),
                                                retryAfterMilliseconds: answer.retryAfterMilliseconds))
        } catch let error as PspTransientError {
            metrics.transientErrors.increment()
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error, message: error.description))
            lines.logger.warning("PSP call failed; retrying", metadata: lines.metadata(["psp": "\(psp.name)", "error": "\(error)", "call": "\(call)"]))
            if let reference = recorded.value { stages.referenceRecorded(reference) }
            guard case .backOff(let upTo, let atLeast) = stages.failed(reason: error.description,
                                                                     retryAfterMilliseconds: error.retryAfterMilliseconds) else {
                preconditionFailure("a failed PSP call is followed by a back-off")
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: atLeast...max(atLeast, upTo))))
            let next = stages.backedOff(nowMilliseconds: currentMilliseconds())
            // Out of calls: a visible terminal outcome, not a silent stall.
            if case .queue = next { metrics.retriesExhausted.increment() }
            return next
        }
    }

    /// The `psp-result-updates` record of the attempt's result `index` (its timestamp is the
    /// result's time, so the record is the same whenever it is built).
    static func outboxRecord(_ attempt: Attempt, index: Int, traceContext: TraceContext? = nil) throws -> OutboxRecord {
        let result = attempt.results[index]
        let status: Paynode_Events_V1_PspStatus = switch result.status {
        case .successful: .successful
        case .failed: .failed
        case .pending: .pending
        }
        let encoded: EventEnvelope.Encoded
        if let refund = attempt.order.refund {
            var event = Paynode_Events_V1_PspRefundResultEvent()
            event.refundID = refund.refundId
            event.paymentOrderID = attempt.order.paymentOrderId
            event.pspStatus = status
            if let reference = result.pspReference { event.pspReference = reference }
            event.eventTimeUnixMs = result.eventTime
            if let code = result.errorCode { event.errorCode = code }
            if let message = result.errorMessage { event.errorMessage = message }
            event.psp = attempt.order.psp
            encoded = try EventEnvelope.encode(event)
        } else {
            encoded = try EventEnvelope.encode(Paynode_Events_V1_PspResultUpdateEvent(
                paymentOrderId: attempt.order.paymentOrderId, status: status, pspReference: result.pspReference,
                eventTimeMilliseconds: result.eventTime, errorCode: result.errorCode, errorMessage: result.errorMessage,
                psp: attempt.order.psp))
        }
        var headers = encoded.headers
        // The producer span's context when there is one, else the order's own.
        if let traceContext = traceContext ?? TraceContext(traceparent: attempt.traceparent) {
            headers.setTraceContext(traceContext)
        } else if let traceparent = attempt.traceparent {
            headers.append(RecordHeader(key: "traceparent", value: Array(traceparent.utf8)))
        }
        return OutboxRecord(attemptKey: attempt.order.journalKey, resultIndex: index, timestamp: result.eventTime,
                            value: Data(encoded.value),
                            headers: headers.map { OutboxRecord.Header(key: $0.key, value: $0.value.map { Data($0) }) })
    }

    private func save(_ attempt: Attempt) async throws {
        let key = Array(attempt.order.journalKey.utf8)
        try await store.write { try Self.put(attempt, key: key, in: $0) }
    }

    /// Writes an attempt, keeping the published count the outbox sender may have advanced
    /// since the caller read it (`mergingPublished: false` when it cannot have).
    static func put(_ attempt: Attempt, key: [UInt8], in transaction: WriteTransaction, mergingPublished: Bool = true) throws {
        let table = try transaction.table(Tables.attempts)
        var attempt = attempt
        if mergingPublished {
            let write = ExecutorPoison.journalWrite(attempt, over: try table.get(key))
            attempt = write.attempt
            if let unreadable = write.quarantined {
                try transaction.table(ExecutorPoison.quarantineTable).put(key, unreadable)
                Counter(label: ExecutorPoison.quarantinedMetric).increment()
            }
        }
        try table.put(key, attempt.encoded())
    }
}

/// What every line about one order carries: its payment order id and trace id.
struct OrderLogLines: Sendable {
    let logger: Logger
    let paymentOrderId: String
    let traceContext: TraceContext?
    /// Set for a refund's attempt.
    var refundId: String? = nil

    func metadata(_ fields: Logger.Metadata) -> Logger.Metadata {
        var metadata = fields
        metadata["paymentOrderId"] = "\(paymentOrderId)"
        if let refundId { metadata["refundId"] = "\(refundId)" }
        if let traceContext { metadata["trace_id"] = "\(traceContext.traceID)" }
        return metadata
    }
}

/// One PSP's call metrics: `paynode_psp_call_seconds{psp}`, `paynode_psp_calls_total{psp,outcome}`
/// and `paynode_psp_retries_exhausted_total{psp}`.
struct PSPCallMetrics: Sendable {
    let callSeconds: Timer
    let calls: [PspStatus: Counter]
    let transientErrors: Counter
    let retriesExhausted: Counter
    let followUpsGivenUp: Counter

    init(psp: String) {
        callSeconds = Timer(label: "paynode_psp_call_seconds", dimensions: [("psp", psp)], preferredDisplayUnit: .seconds)
        calls = Dictionary(uniqueKeysWithValues: PspStatus.allCases.map {
            ($0, Counter(label: "paynode_psp_calls_total", dimensions: [("psp", psp), ("outcome", $0.rawValue.lowercased())]))
        })
        transientErrors = Counter(label: "paynode_psp_calls_total", dimensions: [("psp", psp), ("outcome", "transient_error")])
        retriesExhausted = Counter(label: "paynode_psp_retries_exhausted_total", dimensions: [("psp", psp)])
        followUpsGivenUp = Counter(label: "paynode_psp_followups_given_up_total", dimensions: [("psp", psp)])
    }
}

func currentMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

/// The reference a PSP adapter journaled during one call, handed from the journal's closure
/// back to the attempt's stages.
private final class RecordedReference: Sendable {
    private let stored = Mutex<String?>(nil)

    var value: String? { stored.withLock { $0 } }

    func set(_ reference: String) { stored.withLock { $0 = reference } }
}

/// PENDING payments between follow-ups, outside any payment slot: the consume loop resumes the
/// due ones. In memory only: a restart resumes every unfinished attempt from the journal, which
/// works out its next wait again.
final class ParkedPayments: Sendable {
    private let entries = Mutex<[(due: Int64, attempt: PaymentExecutor.Attempt)]>([])

    var count: Int { entries.withLock { $0.count } }

    /// Parks `attempt` unless `limit` are parked already; whether it was.
    func park(_ attempt: PaymentExecutor.Attempt, dueAtMilliseconds: Int64, limit: Int) -> Bool {
        entries.withLock { entries in
            guard entries.count < limit else { return false }
            entries.append((dueAtMilliseconds, attempt))
            return true
        }
    }

    /// The attempts due by `now`, removed, earliest first.
    func due(nowMilliseconds now: Int64) -> [PaymentExecutor.Attempt] {
        entries.withLock { entries in
            guard entries.contains(where: { $0.due <= now }) else { return [] }
            let due = entries.filter { $0.due <= now }.sorted { $0.due < $1.due }.map(\.attempt)
            entries.removeAll { $0.due <= now }
            return due
        }
    }
}
