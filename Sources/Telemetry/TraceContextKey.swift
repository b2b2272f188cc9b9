import ServiceContextModule
import W3CTraceContext

/// The W3C trace context of the current span, carried in a `ServiceContext`.
private enum TraceContextKey: ServiceContextKey {
    typealias Value = TraceContext
    static var nameOverride: String? { "w3c-trace-context" }
}

extension ServiceContext {
    /// The W3C context (trace id, span id, flags, state) of the span this context belongs to.
    public var traceContext: TraceContext? {
        get { self[TraceContextKey.self] }
        set { self[TraceContextKey.self] = newValue }
    }
}

extension TraceContext {
    /// The 32-hex trace id, as logs and the payment API show it.
    public var traceIDHex: String { traceID.description }

    /// A new sampled root context, for work that arrives without one.
    public static func newRoot() -> TraceContext {
        TraceContext(traceID: .random(), spanID: .random(), flags: .sampled, state: TraceState())
    }

    /// Parses a `traceparent` header value; nil when absent or malformed (a bad header starts a
    /// new trace instead of failing the request or record).
    public init?(traceparent: String?, tracestate: String? = nil) {
        guard let traceparent else { return nil }
        guard let parsed = try? TraceContext(traceParentHeaderValue: traceparent, traceStateHeaderValue: tracestate) else { return nil }
        self = parsed
    }
}
