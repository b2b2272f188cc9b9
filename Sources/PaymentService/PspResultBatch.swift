import KafkaClient
import LogStore
import Payments
import Protocol
import Telemetry
import Tracing
import W3CTraceContext

/// The work of one consumer transaction: each PSP result of a batch handed to
/// `ProcessPaymentRules`, its effects written with the tables opened once, and the outgoing
/// records (`payment-events`, dead letters) collected per partition so each partition gets one
/// appended record batch per transaction instead of one per result.
struct PspResultBatch {
    let transaction: WriteTransaction
    let sourcePartition: Int32
    let now: Int64
    private let orders: WritableTable
    private let history: WritableTable
    private let details: WritableTable
    private var audit: AuditLog.Writer
    private let eventPartitions: Int
    private let deadLetterPartitions: Int
    private var outgoing: [TopicPartition: [Record]] = [:]
    private var outgoingOrder: [TopicPartition] = []
    private(set) var statusChanges: [PaymentStatus: Int64] = [:]

    static let sourceTopic = PaymentTopics.pspResultUpdates
    static let recordsPerAppendedBatch = 500

    init(transaction: WriteTransaction, sourcePartition: Int32, now: Int64) throws {
        self.transaction = transaction
        self.sourcePartition = sourcePartition
        self.now = now
        orders = try transaction.table(PaymentTables.orders)
        history = try transaction.table(PaymentTables.history)
        details = try transaction.table(PaymentTables.details)
        audit = try AuditLog.Writer(in: transaction)
        eventPartitions = try transaction.existingPartitionCount(of: PaymentTopics.paymentEvents)
        deadLetterPartitions = try transaction.existingPartitionCount(of: PaymentTopics.deadLetters)
    }

    /// A record read from `psp-result-updates`, decoded and checked before the write
    /// transaction: on the consumer's own task, so the single writer thread does only the
    /// state work and the decode of one batch overlaps the commit of another.
    struct PreparedResult: Sendable {
        enum Content: Sendable {
            case result(PspResult, paymentOrderId: String)
            /// Not processable: goes to the dead-letter topic with this reason.
            case invalid(reason: String, paymentOrderId: String?)
        }
        var record: Record
        var content: Content
        /// The consumer span, continuing the executor's trace; ended once the batch is durable.
        var span: any Span
        var traceId: String?

        init(_ record: Record, sourcePartition: Int32) {
            self.record = record
            span = MessagingSpans.startProcess(topic: PspResultBatch.sourceTopic, partition: sourcePartition, offset: record.offset,
                                               key: record.key.map { String(decoding: $0, as: UTF8.self) },
                                               group: PaymentTopics.consumerGroup, headers: record.headers)
            traceId = span.context.traceContext?.traceIDHex
            let event: Paynode_Events_V1_PspResultUpdateEvent
            do {
                event = try EventEnvelope.decode(Paynode_Events_V1_PspResultUpdateEvent.self, value: record.value, headers: record.headers)
            } catch {
                content = .invalid(reason: "\(error)", paymentOrderId: record.key.map { String(decoding: $0, as: UTF8.self) })
                return
            }
            guard let result = PaymentService.result(from: event) else {
                content = .invalid(reason: "invalid PspResultUpdateEvent: payment_order_id '\(event.paymentOrderID)' or psp_status \(event.pspStatus) is not valid",
                                   paymentOrderId: event.paymentOrderID)
                return
            }
            content = .result(result, paymentOrderId: event.paymentOrderID)
        }
    }

    /// `ProcessPaymentService.processPspResult` for one prepared record.
    mutating func process(_ prepared: PreparedResult) throws -> (processed: PaymentService.Processed, log: PaymentService.ProcessedEvent) {
        let record = prepared.record
        let span = prepared.span
        let traceId = prepared.traceId
        func deadLettered(_ reason: String, order: String?) throws -> (processed: PaymentService.Processed, log: PaymentService.ProcessedEvent) {
            deadLetter(record, reason: reason)
            try audit.append(.init(outcome: "dead-lettered", paymentOrderId: order, reason: reason, traceId: traceId),
                             record: record, partition: sourcePartition, now: now)
            return (.deadLettered, PaymentService.ProcessedEvent(offset: record.offset, outcome: "dead-lettered", paymentOrderId: order,
                                                                 pspReference: nil, traceId: traceId, reason: reason,
                                                                 publishedTopic: PaymentTopics.deadLetters, spans: [span]))
        }
        let result: PspResult
        let paymentOrderId: String
        switch prepared.content {
        case .invalid(let reason, let order):
            return try deadLettered(reason, order: order)
        case .result(let decoded, let id):
            (result, paymentOrderId) = (decoded, id)
        }
        let id = result.paymentOrderID
        guard let stateBytes = try orders.get(id.bytes), let state = PaymentOrderState(decoding: stateBytes) else {
            return try deadLettered("unknown payment order \(id)", order: paymentOrderId)
        }
        let decision = ProcessPaymentRules.decide(state, result, nowMilliseconds: now)
        if decision.outcome != .duplicate {
            try orders.put(id.bytes, decision.state.encoded())
        }
        if decision.state.status != state.status {
            statusChanges[state.status, default: 0] -= 1
            statusChanges[decision.state.status, default: 0] += 1
        }
        // Every result seen is in the history, duplicates included; the applied entry also
        // carries the terminal fields (reference, error) the order view shows.
        let entry = HistoryEntry(pspStatus: result.status.rawValue, outcome: decision.outcome, reason: decision.reason,
                                 pspReference: result.pspReference, errorCode: result.errorCode, errorMessage: result.errorMessage,
                                 eventTime: result.eventTimeMilliseconds, processedAt: now, topic: Self.sourceTopic,
                                 partition: sourcePartition, offset: record.offset, traceId: traceId)
        try history.put(HistoryKeys.next(after: history, for: id), entry.encodedJSON())
        try audit.append(.init(outcome: decision.outcome.rawValue, paymentOrderId: paymentOrderId, pspStatus: result.status.rawValue,
                               pspReference: result.pspReference, reason: decision.reason, traceId: traceId),
                         record: record, partition: sourcePartition, now: now)
        var spans: [any Span] = [span]
        if let emitted = decision.emitted {
            let send = MessagingSpans.startSend(topic: PaymentTopics.paymentEvents, key: id.description, parent: span.context)
            spans.append(send.span)
            try emitTerminalEvent(emitted, result: result, state: decision.state, sourceOffset: record.offset, traceContext: send.traceContext)
        }
        return (.outcome(decision.outcome),
                PaymentService.ProcessedEvent(offset: record.offset, eventTimeMilliseconds: result.eventTimeMilliseconds,
                                              outcome: decision.outcome.rawValue, paymentOrderId: paymentOrderId,
                                              pspReference: result.pspReference, traceId: traceId, reason: decision.reason,
                                              publishedTopic: decision.emitted == nil ? nil : PaymentTopics.paymentEvents, spans: spans))
    }

    /// Appends what the batch collected (one record batch per partition) and the status counts.
    mutating func finish() throws {
        for topicPartition in outgoingOrder {
            guard let records = outgoing[topicPartition] else { continue }
            // Chunks keep each record batch far below the store's maximum batch size.
            for start in stride(from: 0, to: records.count, by: Self.recordsPerAppendedBatch) {
                try transaction.append(topic: topicPartition.topic, partition: topicPartition.partition,
                                       records: Array(records[start..<min(start + Self.recordsPerAppendedBatch, records.count)]))
            }
        }
        outgoing = [:]
        outgoingOrder = []
        try OrderStatusCounts.add(statusChanges, in: transaction)
    }

    // MARK: Outgoing records

    private mutating func emitTerminalEvent(_ emitted: PaymentStatus, result: PspResult, state: PaymentOrderState, sourceOffset: Int64,
                                            traceContext: TraceContext) throws {
        var source = Paynode_Events_V1_RecordSource()
        source.topic = Self.sourceTopic
        source.partition = sourcePartition
        source.offset = sourceOffset
        let key = result.paymentOrderID.description
        var (amount, currency) = (state.amountMinor, state.currency)
        if amount == nil || currency == nil {
            // Orders written before the hot record carried the amount: read the cold details.
            guard let bytes = try details.get(result.paymentOrderID.bytes) else {
                throw LogStoreError(.storageFailure, "order \(result.paymentOrderID) has state but no details")
            }
            let stored = try JSON.decode(OrderDetails.self, bytes)
            (amount, currency) = (stored.amount, stored.currency)
        }
        let encoded: EventEnvelope.Encoded
        if emitted == .successful {
            var succeeded = Paynode_Events_V1_PaymentSucceeded()
            succeeded.paymentOrderID = key
            succeeded.psp = result.psp
            if let reference = result.pspReference { succeeded.pspReference = reference }
            succeeded.amountMinor = amount ?? 0
            succeeded.currency = currency ?? ""
            succeeded.occurredAtUnixMs = now
            succeeded.source = source
            encoded = try EventEnvelope.encode(succeeded)
        } else {
            var failed = Paynode_Events_V1_PaymentFailed()
            failed.paymentOrderID = key
            failed.psp = result.psp
            if let reference = result.pspReference { failed.pspReference = reference }
            if let code = result.errorCode { failed.errorCode = code }
            if let message = result.errorMessage { failed.errorMessage = message }
            failed.amountMinor = amount ?? 0
            failed.currency = currency ?? ""
            failed.occurredAtUnixMs = now
            failed.source = source
            encoded = try EventEnvelope.encode(failed)
        }
        var headers = encoded.headers
        headers.setTraceContext(traceContext)
        let keyBytes = Array(key.utf8)
        let partition = KafkaPartitioner.partition(forKey: keyBytes, partitionCount: eventPartitions)
        collect(Record(timestamp: -1, key: keyBytes, value: encoded.value, headers: headers),
                for: TopicPartition(PaymentTopics.paymentEvents, partition))
    }

    private mutating func deadLetter(_ record: Record, reason: String) {
        var headers = record.headers
        headers.append(RecordHeader(key: DeadLetterHeaders.reason, value: Array(reason.utf8)))
        headers.append(RecordHeader(key: DeadLetterHeaders.sourceTopic, value: Array(Self.sourceTopic.utf8)))
        headers.append(RecordHeader(key: DeadLetterHeaders.sourcePartition, value: Array(String(sourcePartition).utf8)))
        headers.append(RecordHeader(key: DeadLetterHeaders.sourceOffset, value: Array(String(record.offset).utf8)))
        // The dead letter keeps the original partition where it can, so it stays easy to find.
        let target = Int(sourcePartition) < deadLetterPartitions ? sourcePartition : Int32(Int(sourcePartition) % deadLetterPartitions)
        collect(Record(timestamp: record.timestamp, key: record.key, value: record.value, headers: headers),
                for: TopicPartition(PaymentTopics.deadLetters, target))
    }

    private mutating func collect(_ record: Record, for topicPartition: TopicPartition) {
        if outgoing[topicPartition] == nil { outgoingOrder.append(topicPartition) }
        outgoing[topicPartition, default: []].append(record)
    }
}
