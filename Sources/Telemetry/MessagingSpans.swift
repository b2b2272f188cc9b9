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

    /// The context a record continues: its `traceparent`/`tracestate` headers, if valid.
    public static func context(of headers: [RecordHeader], base: ServiceContext = .topLevel) -> ServiceContext {
        var context = base
        let extractor = RecordHeadersExtractor()
        if let parsed = TraceContext(traceparent: extractor.extract(key: "traceparent", from: headers),
                                     tracestate: extractor.extract(key: "tracestate", from: headers)) {
            context.traceContext = parsed
        }
        return context
    }

    /// Starts the producer span of a record about to be written and returns it with the trace
    /// headers the record must carry. With no tracer installed (or an unsampled trace) the record
    /// still carries a context: the parent's, or a new trace when there is none, so every record
    /// has a `traceparent`.
    public static func startSend(topic: String, key: String?, parent: ServiceContext)
        -> (span: any Span, traceContext: TraceContext) {
        let span = startSpan(name(.send, topic: topic), context: parent, ofKind: .producer)
        if span.isRecording { span.attributes.merge(attributes(.send, topic: topic, key: key)) }
        let traceContext = span.context.traceContext ?? parent.traceContext ?? .newRoot()
        return (span, traceContext)
    }

    /// Starts the consumer span that processes one record.
    public static func startProcess(topic: String, partition: Int32, offset: Int64, key: String?, group: String?,
                                    headers: [RecordHeader]) -> any Span {
        let span = startSpan(name(.process, topic: topic), context: context(of: headers), ofKind: .consumer)
        if span.isRecording {
            span.attributes.merge(attributes(.process, topic: topic, partition: partition, offset: offset, key: key, group: group))
        }
        return span
    }
}

extension Array where Element == RecordHeader {
    /// Sets `traceparent` (and `tracestate` when present) to the given context.
    public mutating func setTraceContext(_ traceContext: TraceContext) {
        removeAll { $0.key == "traceparent" }
        append(RecordHeader(key: "traceparent", value: traceContext.traceParentBytes))
        if let state = traceContext.traceStateHeaderValue, !state.isEmpty {
            let injector = RecordHeadersInjector()
            injector.inject(state, forKey: "tracestate", into: &self)
        }
    }
}
