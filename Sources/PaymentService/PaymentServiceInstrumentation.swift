import Logging
import Metrics
import Payments
import Telemetry
import Tracing
import W3CTraceContext

/// The payment service's spans, metrics and notable log lines, kept out of its transactions:
/// the service reports the points that matter (an order's record about to be written, a
/// creation decided or failed, a batch failed, decided again, or durable) and this says what
/// they are on /metrics, in the trace and in the log.
struct PaymentServiceInstrumentation: Sendable {
    let logger: Logger
    /// Looked up once: finding the bootstrapped tracer takes a lock and dynamic casts.
    let tracer: any Tracer
    /// Made once: a metric handle costs a registry lookup under a lock, per order otherwise.
    private let ordersPublished: Counter

    /// Consumer batches whose snapshot plan was stale at commit time and were decided again
    /// inside the write transaction (see `PspResultBatch`); expected to stay 0.
    static let replannedBatchesMetric = "paynode_psp_result_batches_replanned_total"

    /// `paynode_psp_results_total{outcome}`: the rules' outcomes, `dead_lettered`, and `failed`
    /// (records of a batch whose transaction failed; they are retried and counted again).
    static let resultOutcomeLabels = ResultOutcome.allCases.map(\.rawValue) + ["dead_lettered", "failed"]

    init(logger: Logger, tracer: any Tracer) {
        self.logger = logger
        self.tracer = tracer
        ordersPublished = Counter(label: "paynode_records_published_total",
                                  dimensions: [("topic", PaymentTopics.paymentOrders), ("outcome", "appended")])
        // Every outcome is on /metrics from the start, so rates and alerts see a zero, not a gap.
        for outcome in Self.resultOutcomeLabels {
            _ = Counter(label: "paynode_psp_results_total", dimensions: [("outcome", outcome)])
        }
        for topic in [PaymentTopics.paymentOrders, PaymentTopics.paymentEvents, PaymentTopics.deadLetters] {
            _ = Counter(label: "paynode_records_published_total", dimensions: [("topic", topic), ("outcome", "appended")])
        }
        _ = Counter(label: Self.replannedBatchesMetric)
        for outcome in Self.refundRequestOutcomes {
            _ = Counter(label: "paynode_refunds_requested_total", dimensions: [("outcome", outcome)])
        }
    }

    // MARK: Orders

    /// The producer span of a new order's `PaymentOrderCreated` record and the trace context
    /// the record carries. It continues the caller's trace: the current span's (the HTTP server
    /// span) or the given traceparent's; without either it starts a new one.
    func startOrderSend(orderId: String, traceparent: String?) -> (span: any Span, traceContext: TraceContext) {
        var parent = ServiceContext.current ?? .topLevel
        if parent.traceContext == nil, let given = TraceContext(traceparent: traceparent) { parent.traceContext = given }
        let (span, traceContext) = MessagingSpans.startSend(topic: PaymentTopics.paymentOrders, key: orderId, parent: parent, tracer: tracer)
        if span.isRecording { span.attributes["paynode.payment_order_id"] = SpanAttribute.string(orderId) }
        return (span, traceContext)
    }

    /// `paynode_refunds_requested_total{outcome}`: refund requests that reached the store,
    /// `created`, `replayed` or refused by the rules (`refused`).
    static let refundRequestOutcomes = ["created", "replayed", "refused"]

    /// A refund request that reached the store ended in `outcome`: counted, and on its span; a
    /// created refund's `RefundRequested` is counted as published.
    func refundRequestEnded(_ outcome: CreateRefundOutcome, span: any Span) {
        let label: String
        switch outcome {
        case .created: label = "created"
        case .replayed: label = "replayed"
        case .refused: label = "refused"
        case .invalid, .idempotencyKeyReused, .notFound: return
        }
        span.attributes["paynode.refund_outcome"] = SpanAttribute.string(label)
        Counter(label: "paynode_refunds_requested_total", dimensions: [("outcome", label)]).increment()
        if case .created = outcome { ordersPublished.increment() }
    }

    /// A creation that reached the store ended in `outcome`: whether it replayed goes on its
    /// span, and a created order's record is counted as published.
    func orderCreationEnded(_ outcome: CreateOrderOutcome, span: any Span) {
        let replayed = if case .replayed = outcome { true } else { false }
        span.attributes["paynode.idempotent_replay"] = SpanAttribute.bool(replayed)
        if case .created = outcome { ordersPublished.increment() }
    }

    /// A creation whose transaction failed.
    func orderCreationFailed(_ error: any Error, span: any Span) {
        span.recordError(error)
        span.setStatus(SpanStatus(code: .error))
    }

    // MARK: Results

    /// A batch of `records` results whose transaction failed; they are retried and counted again.
    func batchFailed(records: Int) {
        Counter(label: "paynode_psp_results_total", dimensions: [("outcome", "failed")]).increment(by: records)
    }

    /// A batch whose snapshot plan was stale at commit time, decided again in the write transaction.
    func batchReplanned(topic: String, partition: Int32, offset: Int64) {
        logger.notice("order state changed after the batch was planned; deciding it again in the write transaction",
                      metadata: ["topic": "\(topic)", "partition": "\(partition)", "offset": "\(offset)"])
        Counter(label: Self.replannedBatchesMetric).increment()
    }

    /// A batch is durable (committed at `committedAtMilliseconds`): each result's spans end,
    /// the outcomes and published records are counted, the end-to-end time of each applied
    /// result is recorded, and the results not applied (every result at debug level) are logged.
    func batchCommitted(_ summary: PaymentService.BatchSummary, topic: String, partition: Int32, committedAtMilliseconds: Int64) {
        // Metrics per batch, not per record: each label set is looked up once.
        var outcomes: [String: Int] = [:]
        var published: [String: Int] = [:]
        let endToEnd = Timer(label: "paynode_psp_result_to_commit_seconds", preferredDisplayUnit: .seconds)
        let logsEveryResult = logger.logLevel <= .debug
        for event in summary.events {
            event.endSpans()
            outcomes[event.outcome, default: 0] += 1
            if let topic = event.publishedTopic { published[topic, default: 0] += 1 }
            if event.outcome == ResultOutcome.applied.rawValue, let eventTime = event.eventTimeMilliseconds, eventTime > 0 {
                // End to end: from the PSP result being obtained to its state being committed.
                endToEnd.recordMilliseconds(max(0, committedAtMilliseconds - eventTime))
            }
            let notable = event.outcome == "conflict" || event.outcome == "dead-lettered"
            guard notable || logsEveryResult else { continue }
            var metadata: Logger.Metadata = [
                "trace_id": "\(event.traceId ?? "-")", "paymentOrderId": "\(event.paymentOrderId ?? "-")",
                "pspReference": "\(event.pspReference ?? "-")", "topic": "\(topic)", "partition": "\(partition)",
                "offset": "\(event.offset)", "outcome": "\(event.outcome)", "reason": "\(event.reason)",
            ]
            if let refundId = event.refundId { metadata["refundId"] = "\(refundId)" }
            if notable {
                logger.notice("PSP result not applied", metadata: metadata)
            } else {
                logger.debug("PSP result processed", metadata: metadata)
            }
        }
        for (outcome, count) in outcomes {
            Counter(label: "paynode_psp_results_total", dimensions: [("outcome", outcome.replacingOccurrences(of: "-", with: "_"))])
                .increment(by: count)
        }
        for (topic, count) in published {
            Counter(label: "paynode_records_published_total", dimensions: [("topic", topic), ("outcome", "appended")]).increment(by: count)
        }
    }
}
