import Synchronization
import W3CTraceContext

/// The random source for trace and span ids.
///
/// `TraceID.random()` and `SpanID.random()` use `SystemRandomNumberGenerator`, one getrandom(2)
/// system call per id: with two spans per PSP result that was 8-11% of the service consumer's
/// CPU. Ids must not repeat and should not collide with other processes' ids; they need not be
/// secret. So: splitmix64 over a per-process random seed plus an atomic counter. splitmix64's
/// mix is a bijection, so no two draws of one process return the same value (for 2^64 draws),
/// and the seed from the system generator keeps processes apart.
public struct TraceIDGenerator: RandomNumberGenerator, Sendable {
    private static let seed = UInt64.random(in: .min ... .max)
    private static let draws = Atomic<UInt64>(0)

    public init() {}

    public mutating func next() -> UInt64 {
        let draw = Self.draws.wrappingAdd(1, ordering: .relaxed).oldValue
        return Self.mix(Self.seed &+ draw &* 0x9E37_79B9_7F4A_7C15)
    }

    /// splitmix64's finalizer: a bijection of UInt64 that spreads nearby inputs far apart.
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public static func traceID() -> TraceID {
        var generator = TraceIDGenerator()
        return .random(using: &generator)
    }

    public static func spanID() -> SpanID {
        var generator = TraceIDGenerator()
        return .random(using: &generator)
    }
}
