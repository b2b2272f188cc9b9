import Tracing
import W3CTraceContext

/// A span as it ended, ready to be written somewhere.
public struct FinishedSpan: Sendable {
    public var name: String
    public var kind: SpanKind
    public var traceID: TraceID
    public var spanID: SpanID
    public var parentSpanID: SpanID?
    public var startNanoseconds: UInt64
    public var endNanoseconds: UInt64
    public var attributes: SpanAttributes
    public var status: SpanStatus?
    public var events: [SpanEvent]

    public var durationNanoseconds: UInt64 { endNanoseconds >= startNanoseconds ? endNanoseconds - startNanoseconds : 0 }
}

/// Where finished spans go.
public protocol SpanExporter: Sendable {
    func export(_ span: FinishedSpan)
    func flush()
}

extension SpanExporter {
    public func flush() {}
}

extension SpanKind {
    /// OpenTelemetry's name of the kind (`SPAN_KIND_*` without the prefix, lower-cased).
    public var openTelemetryName: String {
        switch self {
        case .server: "server"
        case .client: "client"
        case .producer: "producer"
        case .consumer: "consumer"
        case .internal: "internal"
        }
    }
}

extension SpanAttribute {
    /// The value as text, without the enum case around it.
    public var text: String {
        switch self {
        case .string(let value): value
        case .int64(let value): "\(value)"
        case .int32(let value): "\(value)"
        case .double(let value): "\(value)"
        case .bool(let value): "\(value)"
        case .stringConvertible(let value): value.description
        case .stringArray(let values): values.joined(separator: ",")
        default: "\(self)"
        }
    }
}
