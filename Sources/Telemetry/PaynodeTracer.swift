import Instrumentation
import ServiceContextModule
import Synchronization
import Tracing
import W3CTraceContext

/// paynode's tracer for swift-distributed-tracing: W3C trace context (`traceparent`,
/// `tracestate`) for propagation over HTTP and Kafka record headers, and finished spans handed
/// to a `SpanExporter`. A span continues the trace of its parent context (same trace id, new
/// span id, the parent's flags); without a parent it starts a new, sampled trace. Spans of
/// unsampled traces still propagate their context but are not exported.
public struct PaynodeTracer: Tracer {
    public let exporter: any SpanExporter

    public init(exporter: any SpanExporter) {
        self.exporter = exporter
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> PaynodeSpan {
        var context = context()
        let parent = context.traceContext
        let own = TraceContext(traceID: parent?.traceID ?? TraceIDGenerator.traceID(), spanID: TraceIDGenerator.spanID(),
                               flags: parent?.flags ?? .sampled, state: parent?.state ?? TraceState())
        context.traceContext = own
        return PaynodeSpan(operationName: operationName, kind: kind, context: context, parentSpanID: parent?.spanID,
                           start: instant().nanosecondsSinceEpoch, exporter: own.flags.contains(.sampled) ? exporter : nil)
    }

    public func activeSpan(identifiedBy context: ServiceContext) -> PaynodeSpan? { nil }

    public func forceFlush() { exporter.flush() }

    public func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
        where Extract.Carrier == Carrier {
        if let parsed = TraceContext(traceparent: extractor.extract(key: "traceparent", from: carrier),
                                     tracestate: extractor.extract(key: "tracestate", from: carrier)) {
            context.traceContext = parsed
        }
    }

    public func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
        where Inject.Carrier == Carrier {
        guard let traceContext = context.traceContext else { return }
        injector.inject(traceContext.traceParentHeaderValue, forKey: "traceparent", into: &carrier)
        if let state = traceContext.traceStateHeaderValue, !state.isEmpty {
            injector.inject(state, forKey: "tracestate", into: &carrier)
        }
    }
}

/// A span of `PaynodeTracer`: reference semantics (as the Span protocol asks), its mutable
/// parts behind one lock, exported once when it ends.
public final class PaynodeSpan: Span {
    public let context: ServiceContext
    public let kind: SpanKind
    public let parentSpanID: SpanID?
    let start: UInt64
    private let exporter: (any SpanExporter)?
    private let state: Mutex<State>

    struct State {
        var operationName: String
        var attributes: SpanAttributes = [:]
        var events: [SpanEvent] = []
        var links: [SpanLink] = []
        var status: SpanStatus?
        var ended = false
    }

    init(operationName: String, kind: SpanKind, context: ServiceContext, parentSpanID: SpanID?, start: UInt64,
         exporter: (any SpanExporter)?) {
        self.context = context
        self.kind = kind
        self.parentSpanID = parentSpanID
        self.start = start
        self.exporter = exporter
        self.state = Mutex(State(operationName: operationName))
    }

    public var isRecording: Bool { exporter != nil && !state.withLock { $0.ended } }

    public var operationName: String {
        get { state.withLock { $0.operationName } }
        set { state.withLock { if !$0.ended { $0.operationName = newValue } } }
    }

    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { if !$0.ended { $0.attributes = newValue } } }
    }

    public func setStatus(_ status: SpanStatus) { state.withLock { if !$0.ended { $0.status = status } } }

    public func addEvent(_ event: SpanEvent) { state.withLock { if !$0.ended { $0.events.append(event) } } }

    public func addLink(_ link: SpanLink) { state.withLock { if !$0.ended { $0.links.append(link) } } }

    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        var eventAttributes = attributes
        eventAttributes["exception.type"] = SpanAttribute.string("\(type(of: error))")
        eventAttributes["exception.message"] = SpanAttribute.string("\(error)")
        addEvent(SpanEvent(name: "exception", at: instant(), attributes: eventAttributes))
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let finished: State? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }
        guard let finished, let exporter, let traceContext = context.traceContext else { return }
        exporter.export(FinishedSpan(
            name: finished.operationName, kind: kind, traceID: traceContext.traceID, spanID: traceContext.spanID,
            parentSpanID: parentSpanID, startNanoseconds: start, endNanoseconds: instant().nanosecondsSinceEpoch,
            attributes: finished.attributes, status: finished.status, events: finished.events))
    }
}
