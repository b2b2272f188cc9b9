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

    /// The `traceparent` header value as bytes, equal to `traceParentHeaderValue.utf8` but
    /// built without string interpolation: every outgoing record carries one.
    public var traceParentBytes: [UInt8] {
        var value = [UInt8]()
        value.reserveCapacity(55)
        value += [UInt8(ascii: "0"), UInt8(ascii: "0"), UInt8(ascii: "-")]
        value += traceID.hexBytes
        value.append(UInt8(ascii: "-"))
        value += spanID.hexBytes
        value.append(UInt8(ascii: "-"))
        let digits = Array("0123456789abcdef".utf8)
        value += [digits[Int(flags.rawValue >> 4)], digits[Int(flags.rawValue & 0x0F)]]
        return value
    }

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
