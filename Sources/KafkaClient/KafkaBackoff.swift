/// Exponential back-off with jitter: attempt n waits `initial * multiplier^n`, capped at
/// `maximum`, then scaled by a random factor in `1 - jitter ... 1 + jitter` (and capped again),
/// so that many clients reconnecting at once spread out.
public struct KafkaBackoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double
    /// 0 ... 1: the fraction by which a delay may vary either way.
    public var jitter: Double

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5), multiplier: Double = 2,
                jitter: Double = 0.2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The delay before retry number `attempt` (0 for the first retry).
    public func delay(attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(attempt: attempt, using: &generator)
    }

    public func delay<Generator: RandomNumberGenerator>(attempt: Int, using generator: inout Generator) -> Duration {
        let cap = Self.seconds(maximum)
        let base = min(Self.seconds(initial) * Self.power(multiplier, max(0, attempt)), cap)
        let factor = jitter > 0 ? Double.random(in: (1 - jitter)...(1 + jitter), using: &generator) : 1
        let seconds = min(base * factor, cap)
        return .nanoseconds(Int64(max(0, seconds) * 1e9))
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    private static func power(_ base: Double, _ exponent: Int) -> Double {
        var result = 1.0
        // Past ~64 doublings every delay is capped anyway; stop before overflowing to inf.
        for _ in 0..<min(exponent, 64) { result *= base }
        return result
    }
}
