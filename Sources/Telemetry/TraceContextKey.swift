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
    /// written straight into one array: every outgoing record carries one.
    public var traceParentBytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 55) { out, count in
            out[0] = UInt8(ascii: "0")
            out[1] = UInt8(ascii: "0")
            out[2] = UInt8(ascii: "-")
            traceID.withSpan { span in
                for index in 0..<16 {
                    out[3 + 2 * index] = Self.hexDigit(span[index] >> 4)
                    out[4 + 2 * index] = Self.hexDigit(span[index] & 0x0F)
                }
            }
            out[35] = UInt8(ascii: "-")
            spanID.withSpan { span in
                for index in 0..<8 {
                    out[36 + 2 * index] = Self.hexDigit(span[index] >> 4)
                    out[37 + 2 * index] = Self.hexDigit(span[index] & 0x0F)
                }
            }
            out[52] = UInt8(ascii: "-")
            out[53] = Self.hexDigit(flags.rawValue >> 4)
            out[54] = Self.hexDigit(flags.rawValue & 0x0F)
            count = 55
        }
    }

    /// Parses `traceparent` header bytes by the rules of `init(traceParentHeaderValue:)`
    /// (version 00, 55 bytes, lowercase hex, non-zero ids) without making strings: every
    /// consumed record carries one. nil when malformed, as `init?(traceparent:)`.
    public init?(traceparentBytes value: [UInt8], tracestate: String? = nil) {
        if let tracestate, !tracestate.isEmpty {
            // Rare; the library's state parser is only reachable through its string initialiser.
            self.init(traceparent: String(decoding: value, as: UTF8.self), tracestate: tracestate)
            return
        }
        guard value.count == 55, value[0] == UInt8(ascii: "0"), value[1] == UInt8(ascii: "0"), value[2] == UInt8(ascii: "-"),
              value[35] == UInt8(ascii: "-"), value[52] == UInt8(ascii: "-"),
              let flags = Self.hexByte(value[53], value[54]) else { return nil }
        var valid = true
        var traceID = TraceID.null
        traceID.withMutableSpan { span in
            for index in 0..<16 {
                guard let byte = Self.hexByte(value[3 + 2 * index], value[4 + 2 * index]) else { valid = false; return }
                span[index] = byte
            }
        }
        var spanID = SpanID.null
        spanID.withMutableSpan { span in
            for index in 0..<8 {
                guard let byte = Self.hexByte(value[36 + 2 * index], value[37 + 2 * index]) else { valid = false; return }
                span[index] = byte
            }
        }
        guard valid, traceID != .null, spanID != .null else { return nil }
        self.init(traceID: traceID, spanID: spanID, flags: TraceFlags(rawValue: flags), state: TraceState())
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    @inline(__always)
    private static func hexByte(_ high: UInt8, _ low: UInt8) -> UInt8? {
        guard let high = nibble(high), let low = nibble(low) else { return nil }
        return high << 4 | low
    }

    @inline(__always)
    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// A new sampled root context, for work that arrives without one.
    public static func newRoot() -> TraceContext {
        TraceContext(traceID: TraceIDGenerator.traceID(), spanID: TraceIDGenerator.spanID(), flags: .sampled, state: TraceState())
    }

    /// Parses a `traceparent` header value; nil when absent or malformed (a bad header starts a
    /// new trace instead of failing the request or record).
    public init?(traceparent: String?, tracestate: String? = nil) {
        guard let traceparent else { return nil }
        guard let parsed = try? TraceContext(traceParentHeaderValue: traceparent, traceStateHeaderValue: tracestate) else { return nil }
        self = parsed
    }
}
