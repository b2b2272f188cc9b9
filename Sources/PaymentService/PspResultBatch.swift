import LogStore
import PaymentEvents
import Payments
import Protocol
import Telemetry
import Tracing
import W3CTraceContext

/// A record read from `psp-result-updates`, decoded and checked before any transaction, on the
/// consumer's own task.
struct PreparedResult: Sendable {
    enum Content: Sendable {
        /// `paymentOrderId` as the event spelled it; `orderKey` the canonical text, which keys
        /// the outgoing `payment-events` record.
        case result(PspResult, paymentOrderId: String, orderKey: String)
        /// A refund's result (`PspRefundResultEvent`); `result.paymentOrderID` is the refund's order.
        case refundResult(PspResult, refundID: RefundID, paymentOrderId: String, orderKey: String)
        /// Not processable: goes to the dead-letter topic with this reason.
        case invalid(reason: String, paymentOrderId: String?)
        /// A whole stored batch no record of which can be trusted (framing, CRC, codec, record
        /// offsets): one dead letter for offsets `record.offset...lastOffset`, whose value is
        /// the batch's bytes (`record.value`).
        case undecodableBatch(reason: String, lastOffset: Int64)
    }
    var record: Record
    var content: Content
    /// The consumer span, continuing the executor's trace; ended once the batch is durable.
    var span: any Span
    var traceId: String?
    /// The audit entry's `recordSha256` (hex), which depends on the record alone.
    var recordSha256: String
    /// The principal that produced the record's batch (`ProducerOwners`), when known.
    var producer: String? = nil

    /// The last source offset this item covers: its record's, or an undecodable batch's last.
    var lastOffset: Int64 {
        if case .undecodableBatch(_, let last) = content { return last }
        return record.offset
    }

    /// A stored batch that cannot be consumed, covering `firstOffset...lastOffset`.
    init(undecodableBatch bytes: [UInt8], firstOffset: Int64, lastOffset: Int64, reason: String, sourcePartition: Int32,
         tracer: any Tracer) {
        record = Record(offset: firstOffset, timestamp: -1, key: nil, value: bytes, headers: [])
        content = .undecodableBatch(reason: reason, lastOffset: lastOffset)
        recordSha256 = AuditLog.hex(AuditLog.recordDigest(record))
        span = MessagingSpans.startProcess(topic: PspResultBatch.sourceTopic, partition: sourcePartition, offset: firstOffset, key: nil,
                                           group: PaymentTopics.consumerGroup, headers: [], tracer: tracer)
        traceId = span.context.traceContext?.traceIDHex
    }

    /// `tracer`: `InstrumentationSystem.tracer`, looked up once per batch.
    /// `refusal`: why the record's producer may not report results; such a record is
    /// dead-lettered without being decoded.
    init(_ record: Record, sourcePartition: Int32, tracer: any Tracer, producer: String? = nil, refusal: String? = nil) {
        self.record = record
        self.producer = producer
        recordSha256 = AuditLog.hex(AuditLog.recordDigest(record))
        span = MessagingSpans.startProcess(topic: PspResultBatch.sourceTopic, partition: sourcePartition, offset: record.offset,
                                           key: record.key.map { String(decoding: $0, as: UTF8.self) },
                                           group: PaymentTopics.consumerGroup, headers: record.headers, tracer: tracer)
        traceId = span.context.traceContext?.traceIDHex
        if let refusal {
            content = .invalid(reason: refusal, paymentOrderId: record.key.map { String(decoding: $0, as: UTF8.self) })
            return
        }
        if Self.namesRefundResult(record.headers) {
            content = Self.refundContent(record)
            return
        }
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
        content = .result(result, paymentOrderId: event.paymentOrderID, orderKey: result.paymentOrderID.description)
    }

    /// Whether the record's schema header names a refund result (the topic carries both kinds);
    /// a byte compare, so payment results pay nothing for it.
    static func namesRefundResult(_ headers: [RecordHeader]) -> Bool {
        guard let schema = headers.last(where: { $0.key == EventSchema.schemaHeader })?.value else { return false }
        return schema.elementsEqual(Paynode_Events_V1_PspRefundResultEvent.protoMessageName.utf8)
    }

    private static func refundContent(_ record: Record) -> Content {
        let key = record.key.map { String(decoding: $0, as: UTF8.self) }
        let event: Paynode_Events_V1_PspRefundResultEvent
        do {
            event = try EventEnvelope.decode(Paynode_Events_V1_PspRefundResultEvent.self, value: record.value, headers: record.headers)
        } catch {
            return .invalid(reason: "\(error)", paymentOrderId: key)
        }
        guard let refundID = RefundID(event.refundID), refundID.paymentOrderID == PaymentOrderID(event.paymentOrderID) else {
            return .invalid(reason: "invalid PspRefundResultEvent: refund_id '\(event.refundID)' is not a refund of payment_order_id '\(event.paymentOrderID)'",
                            paymentOrderId: event.paymentOrderID)
        }
        let status: PspStatus
        switch event.pspStatus {
        case .successful: status = .successful
        case .failed: status = .failed
        case .pending: status = .pending
        default:
            return .invalid(reason: "invalid PspRefundResultEvent: psp_status \(event.pspStatus) is not valid", paymentOrderId: event.paymentOrderID)
        }
        let result = PspResult(paymentOrderID: refundID.paymentOrderID, status: status, pspReference: event.hasPspReference ? event.pspReference : nil,
                               eventTimeMilliseconds: event.eventTimeUnixMs, errorCode: event.hasErrorCode ? event.errorCode : nil,
                               errorMessage: event.hasErrorMessage ? event.errorMessage : nil, psp: event.psp,
                               pspEventID: event.hasPspEventID ? event.pspEventID : nil)
        return .refundResult(result, refundID: refundID, paymentOrderId: event.paymentOrderID, orderKey: refundID.paymentOrderID.description)
    }
}

/// The state a batch is decided against: a read snapshot on the consumer's task (the normal
/// case), or the write transaction itself when that snapshot turned out stale.
struct PaymentStateView {
    let orders: (any TableReading)?
    let refunds: (any TableReading)?
    /// The orders' cold details, read only for an outgoing event's merchant.
    let details: (any TableReading)?
    let eventPartitions: Int
    let deadLetterPartitions: Int

    /// The order's merchant, from its details (written once, at creation): what downstream of
    /// `payment-events` credits. Only the field is read out of the details' JSON.
    func merchant(of id: PaymentOrderID) throws -> String? {
        guard let bytes = try details?.get(id.bytes),
              case .string(let merchant) = try? JSONObjectReader.members(of: bytes)["merchantId"] else { return nil }
        return merchant
    }

    init(_ transaction: ReadTransaction) throws {
        orders = transaction.table(PaymentTables.orders)
        refunds = transaction.table(RefundTable.name)
        details = transaction.table(PaymentTables.details)
        eventPartitions = try transaction.existingPartitionCount(of: PaymentTopics.paymentEvents)
        deadLetterPartitions = try transaction.existingPartitionCount(of: PaymentTopics.deadLetters)
    }

    init(_ transaction: WriteTransaction) throws {
        orders = try transaction.table(PaymentTables.orders)
        refunds = try transaction.table(RefundTable.name)
        details = try transaction.table(PaymentTables.details)
        eventPartitions = try transaction.existingPartitionCount(of: PaymentTopics.paymentEvents)
        deadLetterPartitions = try transaction.existingPartitionCount(of: PaymentTopics.deadLetters)
    }
}

/// `ProcessPaymentService.processPspResult` for a batch, in two steps:
///
/// 1. **Plan** (`PspResultBatch.plan`), on the consumer's task against a read snapshot: every
///    result decided by `ProcessPaymentRules`, and every byte the batch will write (order
///    states, audit bodies, `payment-events` and dead-letter records) made. The audit entry is
///    also the order's history row: one append-only write per result instead of an append
///    plus a B-tree insert keyed by order id, which rewrote the same leaf pages commit after
///    commit (that insert alone cost a quarter of the sustained rate; see BENCHMARKS.md).
/// 2. **Apply** (`PspResultPlan.apply`), in the group commit's write transaction: the writes,
///    the audit chain (only the head knows each entry's sequence and previous hash), the
///    status counts. The single writer thread, which every producer and consumer waits on,
///    does no decoding, deciding or encoding.
///
/// Why a snapshot's decisions still hold at commit time: an order's state changes only in the
/// transactions of the consumer that owns the order's partition (order creation writes new
/// orders only), that consumer plans its next batch only after its previous one is
/// durable, and the offset check makes a second consumer of the partition fail. The plan still
/// proves it: `isCurrent(in:)` compares every order state it read (and the partition counts)
/// with the write transaction's, and on any difference the batch is planned again there.
enum PspResultBatch {
    static let sourceTopic = PaymentTopics.pspResultUpdates
    static let recordsPerAppendedBatch = 500
    static let bytesPerAppendedBatch = 4 << 20

    /// `deadLetterLimit`: the bound of a dead letter's value and key (`DeadLetter`).
    static func plan(_ batch: [PreparedResult], view: PaymentStateView, sourcePartition: Int32, now: Int64,
                     tracer: any Tracer = InstrumentationSystem.tracer, deadLetterLimit: Int = DeadLetter.defaultLimit) throws -> PspResultPlan {
        var planner = Planner(view: view, sourcePartition: sourcePartition, now: now, tracer: tracer, expectedResults: batch.count,
                              deadLetterLimit: deadLetterLimit)
        // By index: iterating the array would copy each result (a dozen retains) per record.
        for index in batch.indices {
            do {
                try planner.add(batch[index])
            } catch let error as LogStoreError {
                // The store failing to read is not the record's fault: the batch is retried.
                throw error
            } catch {
                // Anything else this record makes the rules or the encoders throw would throw
                // again on every retry (same record, same state): dead-letter it and go on.
                // `add` throws before it changes the plan, so nothing of it is half-applied.
                planner.deadLetter(batch[index], reason: "cannot be processed: \(error)",
                                   order: batch[index].record.key.map { String(decoding: $0, as: UTF8.self) })
            }
        }
        return planner.finish()
    }

    /// Decides one result after another; a later result for the same order sees the earlier
    /// one's effect through `current`.
    private struct Planner {
        let view: PaymentStateView
        let sourcePartition: Int32
        let now: Int64
        let tracer: any Tracer
        let deadLetterLimit: Int
        var plan: PspResultPlan
        /// Each order as this batch has left it so far, and the index of its entry in `stateWrites`.
        private var current: [PaymentOrderID: (state: PaymentOrderState, write: Int?)] = [:]
        /// Each refund as this batch has left it so far, and the index of its entry in `refundWrites`.
        private var currentRefunds: [RefundID: (refund: StoredRefund, write: Int?)] = [:]
        private var outgoing: [TopicPartition: [Record]] = [:]
        private var outgoingOrder: [TopicPartition] = []

        init(view: PaymentStateView, sourcePartition: Int32, now: Int64, tracer: any Tracer, expectedResults: Int, deadLetterLimit: Int) {
            self.view = view
            self.deadLetterLimit = deadLetterLimit
            self.sourcePartition = sourcePartition
            self.now = now
            self.tracer = tracer
            plan = PspResultPlan(eventPartitions: view.eventPartitions, deadLetterPartitions: view.deadLetterPartitions)
            current.reserveCapacity(expectedResults)
            plan.audit.reserveCapacity(expectedResults)
            plan.summary.events.reserveCapacity(expectedResults)
        }

        mutating func add(_ prepared: PreparedResult) throws {
            let offset = prepared.record.offset
            let traceId = prepared.traceId
            plan.summary.records += 1
            let result: PspResult
            let paymentOrderId: String
            let orderKey: String
            switch prepared.content {
            case .invalid(let reason, let order):
                deadLetter(prepared, reason: reason, order: order)
                return
            case .undecodableBatch(let reason, _):
                deadLetter(prepared, reason: reason, order: nil)
                return
            case .result(let decoded, let id, let key):
                (result, paymentOrderId, orderKey) = (decoded, id, key)
            case .refundResult(let decoded, let refundID, let id, let key):
                try addRefundResult(prepared, decoded, refundID: refundID, paymentOrderId: id, orderKey: key)
                return
            }
            let id = result.paymentOrderID
            guard let known = try state(of: id) else {
                deadLetter(prepared, reason: "unknown payment order \(id)", order: paymentOrderId)
                return
            }
            let decision = ProcessPaymentRules.decide(known.state, result, nowMilliseconds: now)
            // The outgoing event is made first: it is the only step that can throw, and it must
            // do so before this record changed anything in the plan (see `plan`).
            var sendSpan: (any Span)?
            var terminalEvent: (Record, TopicPartition)?
            if let emitted = decision.emitted {
                (terminalEvent, sendSpan) = try sending(key: orderKey, from: prepared) { traceContext in
                    try makeTerminalEvent(emitted, result: result, key: orderKey, state: decision.state, sourceOffset: offset,
                                          traceContext: traceContext)
                }
            }
            var write = known.write
            if decision.outcome != .duplicate {
                let encoded = decision.state.encoded()
                if let index = write {
                    plan.stateWrites[index].value = encoded
                    plan.stateWrites[index].status = decision.state.status
                } else {
                    // The first write of the order in this batch: `known` is still the state the
                    // batch started from (only a write changes it), so that is the status the
                    // index moves it from; `isCurrent` proves it still is at apply time.
                    write = plan.stateWrites.count
                    plan.stateWrites.append((id.bytes, encoded, known.state.status, decision.state.status))
                }
            }
            if decision.state.status != known.state.status {
                plan.statusChanges[known.state.status, default: 0] -= 1
                plan.statusChanges[decision.state.status, default: 0] += 1
            }
            current[id] = (decision.state, write)
            if result.status == .pending, decision.state.status == .pending, result.errorCode == AttentionIndex.code {
                plan.needingAttention.append(id.bytes)
            }
            // Every result seen is in the audit trail, which is also the order's history:
            // duplicates included; the applied entry carries the terminal fields (reference,
            // error) the order view shows.
            plan.audit.append(AuditLog.Draft(.init(outcome: decision.outcome.rawValue, paymentOrderId: paymentOrderId,
                                                   pspStatus: result.status.rawValue, pspReference: result.pspReference,
                                                   reason: decision.reason, traceId: traceId, orderId: id, errorCode: result.errorCode,
                                                   errorMessage: result.errorMessage, eventTime: result.eventTimeMilliseconds,
                                                   producer: prepared.producer),
                                             recordSha256: prepared.recordSha256, partition: sourcePartition, offset: offset, now: now))
            if let (event, target) = terminalEvent { collect(event, for: target) }
            plan.summary.outcomes[decision.outcome, default: 0] += 1
            plan.summary.events.append(
                PaymentService.ProcessedEvent(offset: offset, eventTimeMilliseconds: result.eventTimeMilliseconds,
                                              outcome: decision.outcome.rawValue, paymentOrderId: paymentOrderId,
                                              pspReference: result.pspReference, traceId: traceId, reason: decision.reason,
                                              publishedTopic: decision.emitted == nil ? nil : PaymentTopics.paymentEvents,
                                              span: prepared.span, sendSpan: sendSpan))
        }

        /// A refund's result: decided over the refund's state (`RefundRules`), the refund
        /// rewritten, `PaymentRefunded` emitted when it becomes SUCCESSFUL, an audit entry (the
        /// order's history) either way.
        private mutating func addRefundResult(_ prepared: PreparedResult, _ result: PspResult, refundID: RefundID,
                                              paymentOrderId: String, orderKey: String) throws {
            let offset = prepared.record.offset
            guard let known = try refund(refundID) else {
                deadLetter(prepared, reason: "unknown refund \(refundID)", order: paymentOrderId)
                return
            }
            let decision = RefundRules.decide(known.refund.state, result, refundID: refundID, nowMilliseconds: now)
            var updated = known.refund
            if decision.outcome != .duplicate { updated.state = decision.state }
            if decision.outcome == .applied {
                updated.errorCode = result.errorCode
                updated.errorMessage = result.errorMessage
            }
            if decision.outcome == .applied || decision.outcome == .recorded, let reference = result.pspReference {
                updated.pspReference = reference
            }
            var sendSpan: (any Span)?
            var refundedEvent: (Record, TopicPartition)?
            if decision.emitted == .successful {
                (refundedEvent, sendSpan) = try sending(key: orderKey, from: prepared) { traceContext in
                    try makeRefundedEvent(updated, refundID: refundID, result: result, key: orderKey, sourceOffset: offset,
                                          traceContext: traceContext)
                }
            }
            var write = known.write
            if decision.outcome != .duplicate {
                let encoded = try JSON.encode(updated)
                if let index = write {
                    plan.refundWrites[index].value = encoded
                } else {
                    write = plan.refundWrites.count
                    plan.refundWrites.append((RefundTable.key(refundID), encoded))
                }
            }
            currentRefunds[refundID] = (updated, write)
            // A refund reconciliation gave up on flags its order, as a payment's would.
            if result.status == .pending, decision.state.status == .pending, result.errorCode == AttentionIndex.code {
                plan.needingAttention.append(refundID.paymentOrderID.bytes)
            }
            plan.audit.append(AuditLog.Draft(.init(outcome: decision.outcome.rawValue, paymentOrderId: paymentOrderId,
                                                   pspStatus: result.status.rawValue, pspReference: result.pspReference,
                                                   reason: decision.reason, traceId: prepared.traceId, orderId: refundID.paymentOrderID,
                                                   errorCode: result.errorCode, errorMessage: result.errorMessage,
                                                   eventTime: result.eventTimeMilliseconds, producer: prepared.producer,
                                                   refundId: refundID.description),
                                             recordSha256: prepared.recordSha256, partition: sourcePartition, offset: offset, now: now))
            if let (event, target) = refundedEvent { collect(event, for: target) }
            plan.summary.outcomes[decision.outcome, default: 0] += 1
            plan.summary.events.append(
                PaymentService.ProcessedEvent(offset: offset, eventTimeMilliseconds: result.eventTimeMilliseconds,
                                              outcome: decision.outcome.rawValue, paymentOrderId: paymentOrderId,
                                              pspReference: result.pspReference, traceId: prepared.traceId, reason: decision.reason,
                                              publishedTopic: refundedEvent == nil ? nil : PaymentTopics.paymentEvents,
                                              refundId: refundID.description, span: prepared.span, sendSpan: sendSpan))
        }

        /// A `payment-events` record made under its producer span, which continues the result's
        /// trace; a record that cannot be made ends its span with the error and throws.
        private func sending(key: String, from prepared: PreparedResult,
                             _ make: (TraceContext) throws -> (Record, TopicPartition)) throws -> ((Record, TopicPartition), any Span) {
            let send = MessagingSpans.startSend(topic: PaymentTopics.paymentEvents, key: key, parent: prepared.span.context, tracer: tracer)
            do {
                return (try make(send.traceContext), send.span)
            } catch {
                send.span.recordError(error)
                send.span.end()
                throw error
            }
        }

        /// The refund as the batch last left it, else as the view has it (noted for `isCurrent`).
        private mutating func refund(_ id: RefundID) throws -> (refund: StoredRefund, write: Int?)? {
            if let known = currentRefunds[id] { return known }
            let key = RefundTable.key(id)
            let bytes = try view.refunds?.get(key)
            plan.observedRefunds.append((key, bytes))
            guard let bytes else { return nil }
            let stored = try RefundTable.decode(bytes, id: id)
            let known = (refund: stored, write: Int?.none)
            currentRefunds[id] = known
            return known
        }

        /// The `PaymentRefunded` record of a refund that became SUCCESSFUL; changes nothing.
        private func makeRefundedEvent(_ refund: StoredRefund, refundID: RefundID, result: PspResult, key: String, sourceOffset: Int64,
                                       traceContext: TraceContext) throws -> (Record, TopicPartition) {
            // The order's other refunds as the store has them, with this batch's changes over them.
            var refunds = try RefundTable.refunds(of: refundID.paymentOrderID, in: view.refunds)
            for index in refunds.indices {
                if let id = RefundID(refunds[index].refundId), let changed = currentRefunds[id] { refunds[index] = changed.refund }
                if refunds[index].refundId == refund.refundId { refunds[index] = refund }
            }
            var source = Paynode_Events_V1_RecordSource()
            source.topic = PspResultBatch.sourceTopic
            source.partition = sourcePartition
            source.offset = sourceOffset
            var refunded = Paynode_Events_V1_PaymentRefunded()
            refunded.paymentOrderID = key
            refunded.refundID = refund.refundId
            refunded.psp = result.psp
            if let reference = refund.pspReference { refunded.pspReference = reference }
            refunded.amountMinor = refund.amount
            refunded.currency = refund.currency
            refunded.refundedTotalMinor = RefundRules.refunded(refunds.map(\.amountAndStatus))
            refunded.occurredAtUnixMs = now
            refunded.source = source
            if let merchant = try view.merchant(of: refundID.paymentOrderID) { refunded.merchantID = merchant }
            let encoded = try EventEnvelope.encode(refunded)
            var headers = encoded.headers
            headers.setTraceContext(traceContext)
            let keyBytes = Array(key.utf8)
            let partition = KafkaPartitioner.partition(forKey: keyBytes, partitionCount: view.eventPartitions)
            return (Record(timestamp: -1, key: keyBytes, value: encoded.value, headers: headers),
                    TopicPartition(PaymentTopics.paymentEvents, partition))
        }

        consuming func finish() -> PspResultPlan {
            plan.outgoing = outgoingOrder.map { ($0, outgoing[$0] ?? []) }
            return plan
        }

        /// The order as the batch last left it, else as the view has it (noted for `isCurrent`).
        private mutating func state(of id: PaymentOrderID) throws -> (state: PaymentOrderState, write: Int?)? {
            if let known = current[id] { return known }
            let bytes = try view.orders?.get(id.bytes)
            plan.observedStates.append((id.bytes, bytes))
            guard let bytes else { return nil }
            guard let state = PaymentOrderState(decoding: bytes) else {
                // Not a store failure: the same bytes fail the same way on every retry, so the
                // result is dead-lettered with this reason (see `plan`).
                throw StoredRecordError(description: "the stored state of order \(id) (\(bytes.count) bytes) is not a PaymentOrderState")
            }
            let known = (state: state, write: Int?.none)
            current[id] = known
            return known
        }

        /// One dead letter for the item (a record, or an undecodable batch's range), bounded by
        /// `deadLetterLimit` (`DeadLetter`), with its audit entry.
        mutating func deadLetter(_ prepared: PreparedResult, reason: String, order: String?) {
            let record = prepared.record
            let letter = DeadLetter(key: record.key, value: record.value,
                                    originalHeaders: record.headers.map { DeadLetter.Header(key: $0.key, value: $0.value) },
                                    reason: reason,
                                    source: .init(topic: PspResultBatch.sourceTopic, partition: sourcePartition,
                                                  firstOffset: record.offset, lastOffset: prepared.lastOffset),
                                    limit: deadLetterLimit)
            // The dead letter keeps the original partition where it can, so it stays easy to find.
            let partitions = view.deadLetterPartitions
            let target = Int(sourcePartition) < partitions ? sourcePartition : Int32(Int(sourcePartition) % max(1, partitions))
            collect(Record(timestamp: record.timestamp, key: letter.key, value: letter.value,
                           headers: letter.headers.map { RecordHeader(key: $0.key, value: $0.value) }),
                    for: TopicPartition(PaymentTopics.deadLetters, target))
            plan.audit.append(AuditLog.Draft(.init(outcome: "dead-lettered", paymentOrderId: order, reason: reason, traceId: prepared.traceId,
                                                   producer: prepared.producer),
                                             recordSha256: prepared.recordSha256, partition: sourcePartition, offset: record.offset, now: now))
            plan.summary.deadLettered += 1
            plan.summary.events.append(
                PaymentService.ProcessedEvent(offset: record.offset, outcome: "dead-lettered", paymentOrderId: order, pspReference: nil,
                                              traceId: prepared.traceId, reason: reason, publishedTopic: PaymentTopics.deadLetters,
                                              span: prepared.span))
        }

        /// The `payment-events` record of a terminal decision and its partition; changes nothing.
        private func makeTerminalEvent(_ emitted: PaymentStatus, result: PspResult, key: String, state: PaymentOrderState,
                                       sourceOffset: Int64, traceContext: TraceContext) throws -> (Record, TopicPartition) {
            var source = Paynode_Events_V1_RecordSource()
            source.topic = PspResultBatch.sourceTopic
            source.partition = sourcePartition
            source.offset = sourceOffset
            let encoded: EventEnvelope.Encoded
            if emitted == .successful {
                var succeeded = Paynode_Events_V1_PaymentSucceeded()
                succeeded.paymentOrderID = key
                succeeded.psp = result.psp
                if let reference = result.pspReference { succeeded.pspReference = reference }
                succeeded.amountMinor = state.amountMinor
                succeeded.currency = state.currency
                succeeded.occurredAtUnixMs = now
                succeeded.source = source
                if let merchant = try view.merchant(of: result.paymentOrderID) { succeeded.merchantID = merchant }
                encoded = try EventEnvelope.encode(succeeded)
            } else {
                var failed = Paynode_Events_V1_PaymentFailed()
                failed.paymentOrderID = key
                failed.psp = result.psp
                if let reference = result.pspReference { failed.pspReference = reference }
                if let code = result.errorCode { failed.errorCode = code }
                if let message = result.errorMessage { failed.errorMessage = message }
                failed.amountMinor = state.amountMinor
                failed.currency = state.currency
                failed.occurredAtUnixMs = now
                failed.source = source
                if let merchant = try view.merchant(of: result.paymentOrderID) { failed.merchantID = merchant }
                encoded = try EventEnvelope.encode(failed)
            }
            var headers = encoded.headers
            headers.setTraceContext(traceContext)
            let keyBytes = Array(key.utf8)
            let partition = KafkaPartitioner.partition(forKey: keyBytes, partitionCount: view.eventPartitions)
            return (Record(timestamp: -1, key: keyBytes, value: encoded.value, headers: headers),
                    TopicPartition(PaymentTopics.paymentEvents, partition))
        }

        private mutating func collect(_ record: Record, for topicPartition: TopicPartition) {
            if outgoing[topicPartition] == nil { outgoingOrder.append(topicPartition) }
            outgoing[topicPartition, default: []].append(record)
        }
    }
}

/// Everything one consumer batch writes, made before the write transaction.
struct PspResultPlan: Sendable {
    /// Each order's stored state as the plan read it (nil: unknown), for `isCurrent(in:)`.
    var observedStates: [(key: [UInt8], value: [UInt8]?)] = []
    /// Each refund record as the plan read it (nil: unknown), for `isCurrent(in:)`.
    var observedRefunds: [(key: [UInt8], value: [UInt8]?)] = []
    /// Each changed refund's final record, in first-change order.
    var refundWrites: [(key: [UInt8], value: [UInt8])] = []
    var eventPartitions: Int
    var deadLetterPartitions: Int
    /// One final state per changed order, in the order the batch first changed them, with the
    /// status it had before the batch and the one it ends with (for `OrderStatusIndex`).
    var stateWrites: [(key: [UInt8], value: [UInt8], previousStatus: PaymentStatus, status: PaymentStatus)] = []
    var audit: [AuditLog.Draft] = []
    /// One list of records per partition (`payment-events`, dead letters), in first-use order.
    var outgoing: [(TopicPartition, [Record])] = []
    var statusChanges: [PaymentStatus: Int64] = [:]
    /// Orders a `needs_attention` result flags (`AttentionIndex`).
    var needingAttention: [[UInt8]] = []
    var summary = PaymentService.BatchSummary(nextOffset: 0)

    init(eventPartitions: Int, deadLetterPartitions: Int) {
        self.eventPartitions = eventPartitions
        self.deadLetterPartitions = deadLetterPartitions
    }

    /// Whether the state the plan was made from is still what `transaction` sees: one lookup
    /// per order instead of the decisions and encoding.
    func isCurrent(in transaction: WriteTransaction) throws -> Bool {
        guard try transaction.existingPartitionCount(of: PaymentTopics.paymentEvents) == eventPartitions,
              try transaction.existingPartitionCount(of: PaymentTopics.deadLetters) == deadLetterPartitions else { return false }
        guard try Self.unchanged(observedStates, in: transaction.table(PaymentTables.orders)) else { return false }
        return try observedRefunds.isEmpty || Self.unchanged(observedRefunds, in: transaction.table(RefundTable.name))
    }

    /// Whether every key still holds the value the plan read (nil: still absent).
    private static func unchanged(_ observed: [(key: [UInt8], value: [UInt8]?)], in table: WritableTable) throws -> Bool {
        for entry in observed {
            let same = try table.withValue(forKey: entry.key) { stored in
                entry.value.map { stored.elementsEqual($0) } ?? false
            } ?? (entry.value == nil)
            if !same { return false }
        }
        return true
    }

    /// Writes the plan. The audit chain's head is read here, inside the transaction, so a
    /// closure the group commit runs again starts again from the committed head.
    func apply(to transaction: WriteTransaction) throws {
        let orders = try transaction.table(PaymentTables.orders)
        let statusIndex = try transaction.table(OrderStatusIndex.table)
        for write in stateWrites {
            try orders.put(write.key, write.value)
            try OrderStatusIndex.move(write.key, from: write.previousStatus, to: write.status, index: statusIndex)
        }
        if !refundWrites.isEmpty {
            let refunds = try transaction.table(RefundTable.name)
            for write in refundWrites { try refunds.put(write.key, write.value) }
        }
        if !needingAttention.isEmpty {
            let attention = try transaction.table(AttentionIndex.table)
            for key in needingAttention { try attention.put(key, []) }
        }
        var audit = try AuditLog.Writer(in: transaction)
        for draft in self.audit {
            try audit.append(draft)
        }
        for (topicPartition, records) in outgoing {
            // Chunks keep each record batch far below the store's maximum batch size: at most
            // `recordsPerAppendedBatch` records and about `bytesPerAppendedBatch` (dead letters
            // can be up to a few times `deadLetterLimit` each).
            var start = 0
            while start < records.count {
                var end = start
                var bytes = 0
                while end < records.count, end - start < PspResultBatch.recordsPerAppendedBatch {
                    let size = records[end].estimatedBytes
                    guard end == start || bytes + size <= PspResultBatch.bytesPerAppendedBatch else { break }
                    bytes += size
                    end += 1
                }
                try transaction.append(topic: topicPartition.topic, partition: topicPartition.partition, records: Array(records[start..<end]))
                start = end
            }
        }
        try OrderStatusCounts.add(statusChanges, in: transaction)
    }
}

extension Record {
    /// An upper bound of the record's encoded size (varints at their widest).
    var estimatedBytes: Int {
        var bytes = 32 + (key?.count ?? 0) + (value?.count ?? 0)
        for header in headers { bytes += 10 + header.key.utf8.count + (header.value?.count ?? 0) }
        return bytes
    }
}
