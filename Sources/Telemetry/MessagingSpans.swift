import Protocol
import ServiceContextModule
import Tracing
import W3CTraceContext

/// Spans for Kafka records, named and attributed after OpenTelemetry's messaging semantic
/// conventions: `send <topic>` (producer) and `process <topic>` (consumer), with
/// `messaging.system=kafka`, `messaging.operation.type`, `messaging.destination.name`,
/// `messaging.destination.partition.id`, `messaging.kafka.offset`, `messaging.kafka.message.key`
/// and `messaging.consumer.group.name`.
public enum MessagingSpans {
    public enum Operation: String, Sendable {
        case send
        case process
        case receive
    }

    public static func name(_ operation: Operation, topic: String) -> String { "\(operation.rawValue) \(topic)" }

    public static func attributes(_ operation: Operation, topic: String, partition: Int32? = nil, offset: Int64? = nil,
                                  key: String? = nil, group: String? = nil) -> SpanAttributes {
        var attributes: SpanAttributes = [
            "messaging.system": "kafka",
            "messaging.operation.type": .string(operation.rawValue),
            "messaging.operation.name": .string(operation.rawValue),
            "messaging.destination.name": .string(topic),
        ]
        if let partition { attributes["messaging.destination.partition.id"] = SpanAttribute.string("\(partition)") }
        if let offset { attributes["messaging.kafka.offset"] = SpanAttribute.int64(offset) }
        if let key { attributes["messaging.kafka.message.key"] = SpanAttribute.string(key) }
        if let group { attributes["messaging.consumer.group.name"] = SpanAttribute.string(group) }
        return attributes
    }

    /// With tracing off (the default, `NoOpTracer`) a span is only its context: made directly,
    /// not through the generic `startSpan` path, which costs several µs per record in runtime
    /// generic-metadata lookups at 100k records/s. Any span on a per-record or per-order path
    /// starts here, with a `tracer` looked up once.
    public static func startSpan(_ name: @autoclosure () -> String, context: ServiceContext, ofKind kind: SpanKind,
                                  tracer: any Tracer) -> any Span {
        if tracer is NoOpTracer { return NoOpTracer.NoOpSpan(context: context) }
        return tracer.startSpan(name(), context: context, ofKind: kind)
    }

    /// The context a record continues: its `traceparent`/`tracestate` headers, if valid.
    public static func context(of headers: [RecordHeader], base: ServiceContext = .topLevel) -> ServiceContext {
        var context = base
        guard let traceparent = headers.last(where: { $0.key == "traceparent" })?.value else { return context }
        let tracestate = RecordHeadersExtractor().extract(key: "tracestate", from: headers)
        if let parsed = TraceContext(traceparentBytes: traceparent, tracestate: tracestate) {
            context.traceContext = parsed
        }
        return context
    }

    /// Starts the producer span of a record about to be written and returns it with the trace
    /// headers the record must carry. With no tracer installed (or an unsampled trace) the record
    /// still carries a context: the parent's, or a new trace when there is none, so every record
    /// has a `traceparent`.
    /// `tracer`: pass `InstrumentationSystem.tracer` looked up once for many records (finding
    /// the bootstrapped tracer takes a lock and dynamic casts on every lookup).
    public static func startSend(topic: String, key: String?, parent: ServiceContext, tracer: any Tracer = InstrumentationSystem.tracer)
        -> (span: any Span, traceContext: TraceContext) {
        let span = startSpan(name(.send, topic: topic), context: parent, ofKind: .producer, tracer: tracer)
        if span.isRecording { span.attributes.merge(attributes(.send, topic: topic, key: key)) }
        let traceContext = span.context.traceContext ?? parent.traceContext ?? .newRoot()
        return (span, traceContext)
    }

    /// Starts the consumer span that processes one record.
    /// `key` is only decoded when the span records (with tracing off, not at all).
    public static func startProcess(topic: String, partition: Int32, offset: Int64, key: @autoclosure () -> String?, group: String?,
                                    headers: [RecordHeader], tracer: any Tracer = InstrumentationSystem.tracer) -> any Span {
        let span = startSpan(name(.process, topic: topic), context: context(of: headers), ofKind: .consumer, tracer: tracer)
        if span.isRecording {
            span.attributes.merge(attributes(.process, topic: topic, partition: partition, offset: offset, key: key(), group: group))
        }
        return span
    }
}

extension Array where Element == RecordHeader {
    /// Sets `traceparent` (and `tracestate` when present) to the given context.
    public mutating func setTraceContext(_ traceContext: TraceContext) {
        replaceHeader("traceparent", with: traceContext.traceParentBytes)
        if let state = traceContext.traceStateHeaderValue, !state.isEmpty {
            replaceHeader("tracestate", with: [UInt8](state.utf8))
        }
    }
}
