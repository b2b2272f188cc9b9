import Foundation
import Logging
import LogStore
import PaymentEvents
import Payments
import Protocol
import Synchronization
import Telemetry
import Tracing
import W3CTraceContext

/// The PaymentService's core over the node's embedded log: creating orders and processing PSP
/// results. Every state change commits in one LMDB transaction with what belongs to it: an order
/// with its idempotency record and its `PaymentOrderCreated` record; a batch of results with the
/// orders' new states, their history, the outgoing `PaymentSucceeded`/`PaymentFailed` records,
/// dead letters, and the consumer group's offset. So the offset never runs ahead of the state,
/// and the state never runs ahead of the offset.
public final class PaymentService: Sendable {
    public let store: LogStore
    private let idGenerator = Mutex(PaymentOrderIDGenerator())
    /// Its spans, metrics and notable log lines.
    let instrumentation: PaymentServiceInstrumentation
    private var logger: Logger { instrumentation.logger }
    private var tracer: any Tracer { instrumentation.tracer }

    /// The bound of a dead letter's value and key (`DeadLetter`); see docs/operations.md.
    let deadLetterLimit: Int
    /// The principals whose results are applied (`User:executor`); a result whose batch was
    /// produced by anyone else, or by a producer with no id, is dead-lettered, whatever the
    /// ACLs let through. nil accepts every producer (tests that append results directly).
    let resultProducers: Set<String>?

    /// The most orders one merchant-scoped list page looks at (`listOrders(merchant:)`).
    let merchantScanBudget: Int
    /// The most refunds one order may have (`createRefund`); each is read whenever the order is.
    let maximumRefundsPerOrder: Int
    public static let defaultMaximumRefundsPerOrder = 100

    public init(store: LogStore, logger: Logger = Logger(label: "paynode.payments"), tracer: any Tracer = InstrumentationSystem.tracer,
                deadLetterLimit: Int = DeadLetter.defaultLimit, merchantScanBudget: Int = 2000, resultProducers: Set<String>? = nil,
                maximumRefundsPerOrder: Int = PaymentService.defaultMaximumRefundsPerOrder) {
        self.store = store
        self.maximumRefundsPerOrder = min(max(1, maximumRefundsPerOrder), RefundID.maximumNumber)
        self.merchantScanBudget = max(1, merchantScanBudget)
        self.resultProducers = resultProducers
        self.deadLetterLimit = min(max(deadLetterLimit, DeadLetter.allowedLimits.lowerBound), DeadLetter.allowedLimits.upperBound)
        instrumentation = PaymentServiceInstrumentation(logger: logger, tracer: tracer)
    }

    /// Creates the pipeline's topics that do not exist yet.
    public func ensureTopics(partitions: Int) async throws {
        for topic in PaymentTopics.all where try store.describe(topic: topic) == nil {
            do {
                try await store.createTopic(topic, partitions: partitions)
            } catch let error as LogStoreError where error.code == .topicAlreadyExists {
                continue
            }
        }
    }

    /// Creates every table the API reads, before anything is served. A table created later by
    /// the consumer's first batch would be unusable in a read transaction that began before
    /// that commit: LogStore hands out its handle as soon as it exists, and LMDB refuses a cursor
    /// on it there (EINVAL), which answered an order GET racing the first result 500.
    public func ensureTables() async throws {
        try await store.write { transaction in
            for table in [AuditLog.table, AuditLog.byOrder, PaymentTables.orders, PaymentTables.details, OrderStatusIndex.table,
                          OrderStatusCounts.table, RefundTable.name] {
                _ = try transaction.table(table)
            }
        }
    }

    /// Orders per status, exact: maintained in the transactions that change them.
    public func ordersByStatus() throws -> [PaymentStatus: Int64] {
        try store.read { try OrderStatusCounts.read(in: $0) } ?? [:]
    }

    // MARK: Orders

    /// The longest Idempotency-Key, in UTF-8 bytes.
    public static let maximumIdempotencyKeyBytes = 255

    /// `POST /v1/payment-orders`: validates, then in one transaction stores the order (PENDING),
    /// the idempotency record and the `PaymentOrderCreated` record. The same key with the same
    /// request replays the first creation; with another request it is refused.
    /// `merchant`: the only merchant the caller may create orders for (its API key's), nil for
    /// any; an order for another is refused before anything is stored.
    public func createOrder(body: [UInt8], idempotencyKey: String?, traceparent: String?, merchant: String? = nil) async throws
        -> CreateOrderOutcome {
        let key: String
        do throws(PaymentRequestError) {
            key = try Self.validatedIdempotencyKey(idempotencyKey)
        } catch {
            return .invalid(error)
        }
        let request: CreateOrderRequest
        do {
            request = try CreateOrderRequest.parse(body)
        } catch {
            return .invalid(error)
        }
        if let merchant, request.merchantId != merchant { return .merchantForbidden }
        let canonical = request.canonical()
        let now = currentMilliseconds()
        let id = idGenerator.withLock { $0.next(unixMilliseconds: now, random: UInt64.random(in: 0...UInt64.max)) }
        let idText = id.description
        let (span, traceContext) = instrumentation.startOrderSend(orderId: idText, traceparent: traceparent)
        defer { span.end() }
        let outcome: CreateOrderOutcome
        do {
            outcome = try await storeOrder(request, id: id, idText: idText, key: key, canonical: canonical, now: now,
                                            traceContext: traceContext)
        } catch {
            instrumentation.orderCreationFailed(error, span: span)
            throw error
        }
        instrumentation.orderCreationEnded(outcome, span: span)
        return outcome
    }

    /// The order (PENDING), its idempotency record and its `PaymentOrderCreated` record, in one
    /// transaction; or the stored response when the key was seen before.
    private func storeOrder(_ request: CreateOrderRequest, id: PaymentOrderID, idText: String, key: String, canonical: String,
                            now: Int64, traceContext: TraceContext) async throws -> CreateOrderOutcome {
        let traceId = traceContext.traceIDHex
        return try await store.write { transaction in
            let idempotency = try transaction.table(PaymentTables.idempotency)
            let tableKey = IdempotencyRecord.tableKey(merchantId: request.merchantId, idempotencyKey: key)
            if let stored = try idempotency.get(tableKey) {
                guard let record = IdempotencyRecord(decoding: stored) else {
                    throw StoredRecordError(description: "the idempotency record of key \(key) is not a \(IdempotencyRecord.size)-byte record")
                }
                guard record.requestHash == IdempotencyRecord.hash(canonical) else { return .idempotencyKeyReused(key: key) }
                return .replayed(order: try Self.creationReply(of: record, in: transaction))
            }
            let details = OrderDetails(paymentOrderId: idText, merchantId: request.merchantId, amount: request.amount,
                                       currency: request.currency, paymentMethod: request.paymentMethod, psp: request.psp,
                                       idempotencyKey: key, traceId: traceId, createdAt: now)
            let state = PaymentOrderState(updatedAtMilliseconds: now, amountMinor: request.amount, currency: request.currency)
            try transaction.table(PaymentTables.orders).put(id.bytes, state.encoded())
            try OrderStatusIndex.move(id.bytes, from: nil, to: state.status, in: transaction)
            try OrderStatusCounts.add([.pending: 1], in: transaction)
            try transaction.table(PaymentTables.details).put(id.bytes, details.encodedJSON())
            var created = Paynode_Events_V1_PaymentOrderCreated()
            created.paymentOrderID = idText
            created.merchantID = request.merchantId
            created.amountMinor = request.amount
            created.currency = request.currency
            created.paymentMethod = request.paymentMethod
            created.psp = request.psp
            created.createdAtUnixMs = now
            created.idempotencyKey = key
            try self.appendEvent(created, key: idText, topic: PaymentTopics.paymentOrders, traceContext: traceContext,
                                 transaction: transaction)
            let body = Self.orderJSON(details: details, state: state, history: nil)
            try idempotency.put(tableKey, IdempotencyRecord(canonicalRequest: canonical, paymentOrderId: id, createdAt: now).encoded())
            return .created(order: body)
        }
    }

    /// The reply an order's creation gave: its JSON at creation, from its details (written
    /// once, in the creating transaction) and the PENDING state it was created in.
    static func creationReply(of record: IdempotencyRecord, in transaction: WriteTransaction) throws -> String {
        guard let bytes = try transaction.table(PaymentTables.details).get(record.paymentOrderId.bytes) else {
            throw StoredRecordError(description: "the idempotency record names order \(record.paymentOrderId), which has no details")
        }
        let details = try JSON.decode(OrderDetails.self, bytes)
        let state = PaymentOrderState(updatedAtMilliseconds: record.createdAt, amountMinor: details.amount, currency: details.currency)
        return orderJSON(details: details, state: state, history: nil)
    }

    /// The most history entries one `GET /v1/payment-orders/{id}` shows unless configured.
    public static let defaultHistoryPageEntries = 100

    /// `GET /v1/payment-orders/{id}`: the order with one page of its result history.
    /// `historyCursor` is the position of the page's first entry (0: from the first); at most
    /// `historyLimit` entries are shown, and when more follow the order carries
    /// `"historyTruncated":true` and `"historyNextCursor":N` (the position to ask for next).
    /// An order's history has no bound of its own (every duplicate result is recorded), so an
    /// unbounded answer could be made arbitrarily large by whoever can produce results.
    ///
    /// `merchant`: the only merchant whose orders the caller sees (nil: every merchant); another
    /// merchant's order is not found, as if it did not exist.
    public func order(_ text: String, historyCursor: Int = 0, historyLimit: Int = PaymentService.defaultHistoryPageEntries,
                      merchant: String? = nil) throws -> OrderLookup {
        guard let id = PaymentOrderID(text) else { return .notFound }
        let limit = max(1, historyLimit)
        let skip = max(0, historyCursor)
        return try store.read { transaction -> OrderLookup in
            guard let stateBytes = try transaction.table(PaymentTables.orders)?.get(id.bytes),
                  let state = PaymentOrderState(decoding: stateBytes),
                  let detailBytes = try transaction.table(PaymentTables.details)?.get(id.bytes) else { return .notFound }
            let details = try JSON.decode(OrderDetails.self, detailBytes)
            if let merchant, details.merchantId != merchant { return .notFound }
            var page = HistoryPage(entries: [], nextCursor: nil)
            var terminal: HistoryEntry?
            var position = 0
            // One pass: the page, and the applied entry (the terminal fields), which may lie
            // outside the page. Entries are decoded one at a time; only the page is kept, and
            // the walk stops once both are known (a pending order has no applied entry).
            try Self.forEachHistoryEntry(of: id, in: transaction) { entry in
                if terminal == nil, entry.outcome == .applied, entry.refundId == nil { terminal = entry }
                if position >= skip {
                    if page.entries.count < limit {
                        page.entries.append(entry)
                    } else if page.nextCursor == nil {
                        page.nextCursor = position
                    }
                }
                position += 1
                return page.nextCursor == nil || (terminal == nil && state.status != .pending)
            }
            let refunds = try RefundTable.refunds(of: id, in: transaction.table(RefundTable.name))
            return .found(Self.orderJSON(details: details, state: state, history: page.entries, terminal: terminal,
                                         historyNextCursor: page.nextCursor, refunds: refunds))
        }
    }

    struct HistoryPage {
        var entries: [HistoryEntry]
        var nextCursor: Int?
    }

    /// The applied history entry of an order (its terminal fields), or nil. An order has at
    /// most one (PENDING becomes terminal once; terminal states are sticky), so the walk stops
    /// there: the duplicates and conflicts after it, however many a producer sent, are not read.
    /// The merchant an order belongs to, or nil without details.
    static func merchant(of id: PaymentOrderID, in transaction: ReadTransaction) throws -> String? {
        guard let bytes = try transaction.table(PaymentTables.details)?.get(id.bytes) else { return nil }
        return try JSON.decode(OrderDetails.self, bytes).merchantId
    }

    static func terminalEntry(of id: PaymentOrderID, in transaction: ReadTransaction) throws -> HistoryEntry? {
        try terminalEntry(of: id, orderIndex: transaction.table(AuditLog.byOrder), log: transaction.table(AuditLog.table))
    }

    /// The payment's own applied entry: a refund's applied entries (later) are not it.
    static func terminalEntry(of id: PaymentOrderID, orderIndex: (any TableReading)?, log: (any TableReading)?) throws -> HistoryEntry? {
        var terminal: HistoryEntry?
        try forEachHistoryEntry(of: id, orderIndex: orderIndex, log: log) { entry in
            if entry.outcome == .applied, entry.refundId == nil { terminal = entry }
            return terminal == nil
        }
        return terminal
    }

    /// `GET /v1/payment-orders?status=S&limit=N&cursor=C` (`OrderListQuery`): most recent first
    /// (ids are time-ordered), optionally only one status; `cursor` is the last id of the
    /// previous page.
    /// With a status the orders come from `OrderStatusIndex`, so a page costs `limit` lookups
    /// however few orders have that status.
    ///
    /// `merchant`: only that merchant's orders. There is no index by merchant, so one page
    /// looks at no more than `merchantScanBudget` orders: a merchant with few orders among
    /// many others gets short (even empty) pages with a `nextCursor` to go on from, never an
    /// unbounded walk per request.
    public func listOrders(_ query: OrderListQuery, merchant: String? = nil) throws -> String {
        let (status, limit, end) = (query.status, query.limit, query.cursor?.bytes)
        let budget = merchantScanBudget
        let (views, next): ([String], String?) = try store.read { transaction in
            guard let orders = transaction.table(PaymentTables.orders), let details = transaction.table(PaymentTables.details) else {
                return ([], nil)
            }
            var views: [String] = []
            var lastId: String?
            var more = false
            var examined = 0
            /// Adds one order's view; false once the page is full (and one more order exists).
            func visit(_ key: [UInt8], _ state: PaymentOrderState) throws -> Bool {
                if views.count == limit || (merchant != nil && examined == budget) {
                    more = true
                    return false
                }
                examined += 1
                guard let detailBytes = try details.get(key) else { return true }
                let detail = try JSON.decode(OrderDetails.self, detailBytes)
                if let merchant, detail.merchantId != merchant {
                    // Skipped, but the next page starts after it.
                    lastId = detail.paymentOrderId
                    return true
                }
                var terminal: HistoryEntry?
                if state.status != .pending, let id = PaymentOrderID(bytes: key) {
                    terminal = try Self.terminalEntry(of: id, in: transaction)
                }
                views.append(Self.orderJSON(details: detail, state: state, history: nil, terminal: terminal))
                lastId = detail.paymentOrderId
                return true
            }
            if query.needsAttention {
                let refunds = transaction.table(RefundTable.name)
                try AttentionIndex.forEachReverse(before: end, in: transaction) { key in
                    // Flags stay when an order (or its refund) settles later: only PENDING
                    // orders and orders with a PENDING refund are shown.
                    guard let stateBytes = try orders.get(key), let state = PaymentOrderState(decoding: stateBytes) else { return true }
                    if state.status != .pending {
                        guard let id = PaymentOrderID(bytes: key),
                              try RefundTable.refunds(of: id, in: refunds).contains(where: { $0.status == .pending }) else { return true }
                    }
                    return try visit(key, state)
                }
            } else if let status {
                try OrderStatusIndex.forEachReverse(status, before: end, in: transaction) { key in
                    // The index is written with the state; a mismatch would be a bug, and the
                    // order is then left out rather than shown under the wrong status.
                    guard let stateBytes = try orders.get(key), let state = PaymentOrderState(decoding: stateBytes),
                          state.status == status else { return true }
                    return try visit(key, state)
                }
            } else {
                try orders.forEachReverse(before: end) { key, value in
                    guard let state = PaymentOrderState(decoding: value) else { return true }
                    return try visit(Array(key), state)
                }
            }
            return (views, more ? lastId : nil)
        }
        let nextJSON = next.map { "\"\($0)\"" } ?? "null"
        return #"{"orders":["# + views.joined(separator: ",") + #"],"nextCursor":"# + nextJSON + "}"
    }

    // MARK: Results

    /// One step of the PspResultUpdateConsumer for one partition: reads whole stored batches
    /// (at least `maxRecords` records unless the log ends first) from the group's committed
    /// offset and hands each record to `ProcessPaymentRules`, all in one write transaction with
    /// the offset commit. Whatever cannot be consumed becomes a dead letter (with its reason
    /// and source offsets) in that same transaction: a record whose event does not decode, a
    /// result for an unknown order, and a whole stored batch that fails any of the consumer's
    /// checks (`ConsumedBatch`: framing, CRC, codec, record offsets), covering that batch's
    /// offsets as the store knows them. So nothing the log holds stalls the partition, and
    /// nothing is skipped without a dead letter. A transient failure (e.g. out of space)
    /// throws and leaves the offset where it was (`ConsumerFailure` tells which is which).
    ///
    /// Batches are taken whole and decoded once each (a gzip batch is inflated once), never
    /// cut at `maxRecords`: a cut batch would be read and inflated again by the next step.
    /// The principal each producer id of `items` was issued to (`ProducerOwners`), read once per step.
    private func producerOwners(of items: [ConsumerStep.Item]) throws -> [Int64: String?] {
        var ids = Set<Int64>()
        for case .record(_, let producerId) in items where producerId >= 0 { ids.insert(producerId) }
        guard !ids.isEmpty else { return [:] }
        return try store.read { transaction in
            let table = transaction.table(ProducerOwners.table)
            var owners: [Int64: String?] = [:]
            for id in ids { owners[id] = try ProducerOwners.owner(of: id, in: table) }
            return owners
        }
    }

    public func processResults(partition: Int32, maxRecords: Int = 5000, maxWait: Duration = .zero) async throws -> BatchSummary {
        let topic = PaymentTopics.pspResultUpdates
        let description = try store.describe(topic: topic)
        let bounds = description.flatMap { Int(partition) < $0.partitions.count ? $0.partitions[Int(partition)] : nil }
        let committed = try store.committedOffset(group: PaymentTopics.consumerGroup, topic: topic, partition: partition)?.offset
        let start = Self.startOffset(committed: committed, logStart: bounds?.logStartOffset ?? 0, highWatermark: bounds?.highWatermark ?? 0)
        if let committed, committed != start {
            logger.warning("the committed offset is outside the partition's range; consuming from the nearest end", metadata: [
                "topic": "\(topic)", "partition": "\(partition)", "committed": "\(committed)", "offset": "\(start)"])
        }
        let fetched = try await store.storedBatches(topic: topic, partition: partition, offset: start, maxBytes: 4 << 20, maxWait: maxWait)
        let items = ConsumerStep.collect(fetched.batches, from: start, maxRecords: maxRecords, decode: { ConsumedBatch.decode($0) })
        // The group commit's size estimate: what the batch writes grows with what it read.
        let estimatedBytes = 2 * fetched.batches.reduce(0) { $0 + $1.bytes.readableBytes }
        let producers = try producerOwners(of: items)
        let resultProducers = self.resultProducers
        let batch = items
            .map { item -> PreparedResult in
                switch item {
                case .record(let record, let producerId):
                    let producer = producers[producerId] ?? nil
                    if let resultProducers, producer.map(resultProducers.contains) != true {
                        let who = producerId < 0 ? "a producer without a producer id (its principal is unknown)"
                            : producer.map { "\($0), who" } ?? "producer id \(producerId), whose principal is unknown, which"
                        return PreparedResult(record, sourcePartition: partition, tracer: tracer, producer: producer,
                                              refusal: "produced by \(who) may not report PSP results")
                    }
                    return PreparedResult(record, sourcePartition: partition, tracer: tracer, producer: producer)
                case .undecodable(let bytes, let first, let end, let reason):
                    return PreparedResult(undecodableBatch: bytes, firstOffset: first, lastOffset: end - 1, reason: reason,
                                          sourcePartition: partition, tracer: tracer)
                }
            }
        guard !batch.isEmpty else { return BatchSummary(nextOffset: start) }
        let now = currentMilliseconds()
        let summary: BatchSummary
        do {
            summary = try await processBatch(batch, start: start, partition: partition, now: now, tracer: tracer,
                                             estimatedBytes: estimatedBytes)
        } catch {
            instrumentation.batchFailed(records: batch.count)
            throw error
        }

        instrumentation.batchCommitted(summary, topic: topic, partition: partition, committedAtMilliseconds: currentMilliseconds())
        return summary
    }

    /// One transaction for a batch: every record's effect, the status counts, and the offset.
    /// The batch is decided and encoded here, on the consumer's task against a read snapshot;
    /// the write transaction checks that snapshot is still current and writes the plan.
    private func processBatch(_ batch: [PreparedResult], start: Int64, partition: Int32, now: Int64,
                              tracer: any Tracer, estimatedBytes: Int) async throws -> BatchSummary {
        let topic = PaymentTopics.pspResultUpdates
        let nextOffset = batch[batch.count - 1].lastOffset + 1
        let planned = try store.read { snapshot in
            try PspResultBatch.plan(batch, view: PaymentStateView(snapshot), sourcePartition: partition, now: now, tracer: tracer,
                                    deadLetterLimit: deadLetterLimit)
        }
        let instrumentation = instrumentation
        return try await store.write(estimatedBytes: estimatedBytes) { transaction in
            // Only one consumer may advance a partition: if the offset moved, this batch was
            // processed already; throw and let the caller read again.
            let committed = try transaction.committedOffset(group: PaymentTopics.consumerGroup, topic: topic, partition: partition)?.offset
            guard (committed ?? start) == start else {
                throw LogStoreError(.invalidArgument, "\(topic)-\(partition) was advanced concurrently to \(committed ?? -1)")
            }
            var plan = planned
            if try !plan.isCurrent(in: transaction) {
                instrumentation.batchReplanned(topic: topic, partition: partition, offset: start)
                plan = try PspResultBatch.plan(batch, view: PaymentStateView(transaction), sourcePartition: partition, now: now,
                                               tracer: tracer, deadLetterLimit: self.deadLetterLimit)
            }
            try plan.apply(to: transaction)
            try transaction.commitOffset(group: PaymentTopics.consumerGroup, topic: topic, partition: partition,
                                         offset: nextOffset, metadata: "paynode service")
            var summary = plan.summary
            summary.nextOffset = nextOffset
            return summary
        }
    }

    /// Where a partition's consumer starts: the committed offset, brought into the partition's
    /// range. Below the log start (retention removed those records) it starts at the log start,
    /// as Kafka's `auto.offset.reset=earliest`; past the high watermark (no release writes that)
    /// at the high watermark, so the committed offset is never moved further past it.
    static func startOffset(committed: Int64?, logStart: Int64, highWatermark: Int64) -> Int64 {
        guard let committed else { return logStart }
        return min(max(committed, logStart), max(logStart, highWatermark))
    }

    func appendEvent(_ event: some PaynodeEvent, key: String, topic: String, traceContext: TraceContext,
                             transaction: WriteTransaction) throws {
        let encoded = try EventEnvelope.encode(event)
        var headers = encoded.headers
        headers.setTraceContext(traceContext)
        let partition = KafkaPartitioner.partition(forKey: Array(key.utf8), partitionCount: try transaction.existingPartitionCount(of: topic))
        try transaction.append(topic: topic, partition: partition, records: [
            Record(timestamp: -1, key: Array(key.utf8), value: encoded.value, headers: headers),
        ])
    }

    static func result(from event: Paynode_Events_V1_PspResultUpdateEvent) -> PspResult? {
        guard let id = PaymentOrderID(event.paymentOrderID) else { return nil }
        let status: PspStatus
        switch event.pspStatus {
        case .successful: status = .successful
        case .failed: status = .failed
        case .pending: status = .pending
        default: return nil
        }
        return PspResult(paymentOrderID: id, status: status, pspReference: event.hasPspReference ? event.pspReference : nil,
                         eventTimeMilliseconds: event.eventTimeUnixMs, errorCode: event.hasErrorCode ? event.errorCode : nil,
                         errorMessage: event.hasErrorMessage ? event.errorMessage : nil, psp: event.psp,
                         pspEventID: event.hasPspEventID ? event.pspEventID : nil)
    }

    /// One order's result history, in arrival order: its audit entries (the audit entry carries
    /// every history field). Dead letters are not part of an order's history.
    static func history(of id: PaymentOrderID, in transaction: ReadTransaction) throws -> [HistoryEntry] {
        var history: [HistoryEntry] = []
        try forEachHistoryEntry(of: id, in: transaction) { entry in
            history.append(entry)
            return true
        }
        return history
    }

    /// `history(of:in:)` one entry at a time, until `body` returns false; audit entries are
    /// read and decoded as they are visited, not all first.
    static func forEachHistoryEntry(of id: PaymentOrderID, in transaction: ReadTransaction,
                                    _ body: (HistoryEntry) throws -> Bool) throws {
        try forEachHistoryEntry(of: id, orderIndex: transaction.table(AuditLog.byOrder), log: transaction.table(AuditLog.table), body)
    }

    static func forEachHistoryEntry(of id: PaymentOrderID, orderIndex: (any TableReading)?, log: (any TableReading)?,
                                    _ body: (HistoryEntry) throws -> Bool) throws {
        guard let index = orderIndex, let log else { return }
        try index.forEach(from: id.bytes) { key, _ in
            guard key.count == 24, key.starts(with: id.bytes) else { return false }
            guard let bytes = try log.get(Array(key.suffix(8))) else { return true }
            let stored = try AuditLog.decode(bytes)
            guard let entry = HistoryEntry(auditEntry: stored.entry) else { return true }
            return try body(entry)
        }
    }

    /// The order as the API shows it. The terminal fields come from the applied history entry
    /// (`terminal`).
    static func orderJSON(details: OrderDetails, state: PaymentOrderState, history: [HistoryEntry]?,
                          terminal: HistoryEntry? = nil, historyNextCursor: Int? = nil, refunds: [StoredRefund]? = nil) -> String {
        var writer = JSONObjectWriter(capacity: 400 + (history?.count ?? 0) * 320)
        writer.add("amount", details.amount)
        writer.add("createdAt", details.createdAt)
        writer.add("currency", details.currency)
        writer.add("errorCode", terminal?.errorCode)
        writer.add("errorMessage", terminal?.errorMessage)
        if let history {
            var array: [UInt8] = [UInt8(ascii: "[")]
            for (index, entry) in history.enumerated() {
                if index > 0 { array.append(UInt8(ascii: ",")) }
                array += entry.encodedJSON()
            }
            array.append(UInt8(ascii: "]"))
            writer.add("history", json: array)
            // Only when a page was cut: an order within one page reads exactly as before.
            if let historyNextCursor {
                writer.add("historyNextCursor", historyNextCursor)
                writer.add("historyTruncated", json: "true".utf8)
            }
        }
        writer.add("merchantId", details.merchantId)
        writer.add("paymentMethod", details.paymentMethod)
        writer.add("paymentOrderId", details.paymentOrderId)
        writer.add("psp", details.psp)
        writer.add("pspReference", terminal?.pspReference)
        // The order read by id shows its refunds; a list page does not (a read per order).
        if let refunds {
            var array: [UInt8] = [UInt8(ascii: "[")]
            for (index, refund) in refunds.enumerated() {
                if index > 0 { array.append(UInt8(ascii: ",")) }
                array += refund.encodedJSON()
            }
            array.append(UInt8(ascii: "]"))
            writer.add("refundableAmount", state.status == .successful
                ? RefundRules.refundable(orderAmountMinor: details.amount, refunds: refunds.map(\.amountAndStatus)) : 0)
            writer.add("refundedAmount", RefundRules.refunded(refunds.map(\.amountAndStatus)))
            writer.add("refunds", json: array)
        }
        writer.add("status", state.status.rawValue)
        writer.add("traceId", details.traceId)
        writer.add("updatedAt", state.updatedAtMilliseconds)
        return String(decoding: writer.finish(), as: UTF8.self)
    }
}

func currentMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
