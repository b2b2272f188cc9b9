import Foundation
import LogStore
import PaymentEvents
import Payments
import Protocol
import Synchronization
import Telemetry
import Testing
import Tracing
@testable import PaymentService

/// Collects finished spans of every test in this process; each test filters by its trace id.
final class SharedSpanCollector: SpanExporter {
    static let shared: SharedSpanCollector = {
        let collector = SharedSpanCollector()
        InstrumentationSystem.bootstrap(PaynodeTracer(exporter: collector))
        return collector
    }()

    private let spans = Mutex<[FinishedSpan]>([])
    func export(_ span: FinishedSpan) { spans.withLock { $0.append(span) } }
    func spans(ofTrace traceID: String) -> [FinishedSpan] { spans.withLock { $0.filter { "\($0.traceID)" == traceID } } }
}

@Suite("Traces through the service")
struct TracingTests {
    typealias Fixture = PaymentServiceTests.Fixture

    /// A creation's producer span says whether it replayed; a refused creation has none.
    @Test func aCreationsSpanSaysWhetherItReplayed() async throws {
        let collector = SharedSpanCollector.shared
        let fixture = try await Fixture()
        defer { fixture.close() }
        let traceID = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let body = Array(#"{"merchantId":"m_1","amount":5000,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#.utf8)
        for key in ["replay-1", "replay-1", nil] {
            _ = try await fixture.service.createOrder(body: body, idempotencyKey: key, traceparent: "00-\(traceID)-b7ad6b7169203331-01")
        }
        let sends = collector.spans(ofTrace: traceID).filter { $0.name == "send payment-orders" }
        #expect(sends.map { $0.attributes.get("paynode.idempotent_replay") } == [.bool(false), .bool(true)])
    }

    @Test func oneTraceFromTheOrderToItsTerminalEventWithMessagingSpans() async throws {
        let collector = SharedSpanCollector.shared
        let fixture = try await Fixture()
        defer { fixture.close() }
        let traceID = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let body = #"{"merchantId":"m_1","amount":5000,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#
        let created = try await fixture.service.createOrder(body: Array(body.utf8), idempotencyKey: "trace-1",
                                                            traceparent: "00-\(traceID)-b7ad6b7169203331-01")
        let order = try #require(created.order)
        let id = try #require(try JSONSerialization.jsonObject(with: Data(order.utf8)) as? [String: Any])["paymentOrderId"] as? String
        let orderId = try #require(id)

        // The order's record carries the producer span's context, child of the caller's span.
        let orderRecord = try #require(try fixture.records(PaymentTopics.paymentOrders).first { $0.key == Array(orderId.utf8) })
        let orderContext = try #require(MessagingSpans.context(of: orderRecord.headers).traceContext)
        #expect(orderContext.traceIDHex == traceID)
        let send = try #require(collector.spans(ofTrace: traceID).first { $0.name == "send payment-orders" })
        #expect(send.kind == .producer && "\(send.parentSpanID!)" == "b7ad6b7169203331" && send.spanID == orderContext.spanID)
        #expect(send.attributes.get("messaging.destination.name")?.text == PaymentTopics.paymentOrders)

        // The executor's result continues the trace; the service's consumer span continues it.
        var event = Paynode_Events_V1_PspResultUpdateEvent()
        event.paymentOrderID = orderId
        event.pspStatus = .successful
        event.pspReference = "pi_trace"
        event.eventTimeUnixMs = 1_700_000_000_000
        event.psp = "stripe"
        let encoded = try EventEnvelope.encode(event)
        var headers = encoded.headers
        headers.setTraceContext(orderContext)
        try await fixture.store.append(topic: PaymentTopics.pspResultUpdates, partition: 0,
                                       records: [Record(timestamp: -1, key: Array(orderId.utf8), value: encoded.value, headers: headers)])
        _ = try await fixture.service.processResults(partition: 0)

        let spans = collector.spans(ofTrace: traceID)
        let process = try #require(spans.first { $0.name == "process psp-result-updates" })
        #expect(process.kind == .consumer && process.parentSpanID == orderContext.spanID)
        #expect(process.attributes.get("messaging.consumer.group.name")?.text == PaymentTopics.consumerGroup)
        #expect(process.attributes.get("messaging.kafka.offset") == .int64(0))
        #expect(process.attributes.get("paynode.outcome")?.text == "applied")
        #expect(process.attributes.get("paynode.psp_reference")?.text == "pi_trace")
        let publish = try #require(spans.first { $0.name == "send payment-events" })
        #expect(publish.kind == .producer && publish.parentSpanID == process.spanID)
        let terminal = try #require(try fixture.records(PaymentTopics.paymentEvents).first { $0.key == Array(orderId.utf8) })
        let terminalContext = try #require(MessagingSpans.context(of: terminal.headers).traceContext)
        #expect(terminalContext.traceIDHex == traceID && terminalContext.spanID == publish.spanID)
        #expect(terminal.headers.filter { $0.key == "traceparent" }.count == 1)
    }
}
