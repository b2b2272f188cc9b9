import Payments
import Tracing

extension PaymentService {
    /// What one `processResults` step did; its events are reported once the batch is durable.
    public struct BatchSummary: Sendable {
        public var records = 0
        public var outcomes: [ResultOutcome: Int] = [:]
        public var deadLettered = 0
        public var nextOffset: Int64
        /// One entry per record, logged once the batch is durable (never from a retried attempt).
        var events: [ProcessedEvent] = []
    }

    struct ProcessedEvent: Sendable {
        var offset: Int64
        var eventTimeMilliseconds: Int64? = nil
        var outcome: String
        var paymentOrderId: String?
        var pspReference: String?
        var traceId: String?
        var reason: String
        /// The topic this result's effect was appended to (`payment-events` or the DLQ), if any.
        var publishedTopic: String? = nil
        /// Set for a refund's result.
        var refundId: String? = nil
        /// The consumer span and, when an event was emitted, its producer span; ended after commit.
        var span: any Span
        var sendSpan: (any Span)? = nil

        /// Ends the spans with what happened, once the batch is durable.
        func endSpans() {
            end(span)
            end(sendSpan)
        }

        private func end(_ span: (any Span)?) {
            guard let span, span.isRecording else { return }
            span.attributes["paynode.outcome"] = SpanAttribute.string(outcome)
            if let paymentOrderId { span.attributes["paynode.payment_order_id"] = SpanAttribute.string(paymentOrderId) }
            if let pspReference { span.attributes["paynode.psp_reference"] = SpanAttribute.string(pspReference) }
            if let refundId { span.attributes["paynode.refund_id"] = SpanAttribute.string(refundId) }
            if outcome == "dead-lettered" || outcome == "conflict" {
                span.setStatus(SpanStatus(code: .error, message: reason))
            }
            span.end()
        }
    }
}
