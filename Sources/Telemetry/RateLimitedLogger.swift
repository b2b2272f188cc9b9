import Logging
import Synchronization

/// Per-key token buckets deciding which warnings reach the log: a flood of bad requests from
/// hostile clients must not flood the log (disk, and the operator's attention). Pure: the
/// caller passes the time in, so tests need no clock.
public struct LogRateLimiter: Sendable {
    public enum Decision: Sendable, Hashable {
        /// Log it; `suppressed` lines of this key were dropped since the last one logged.
        case log(suppressed: Int)
        case suppress
    }

    private struct Bucket {
        var tokens: Double
        var updatedNanoseconds: UInt64
        var suppressed: Int
    }

    /// Lines a key may log in a burst.
    public let burst: Int
    /// Lines a key may log per second once the burst is spent.
    public let perSecond: Double
    /// Keys tracked at most; beyond it the idlest key is forgotten, so hostile keys (one per
    /// client address, say) cannot grow this without bound.
    public let maximumKeys: Int
    private var buckets: [String: Bucket] = [:]

    public init(burst: Int = 5, perSecond: Double = 0.2, maximumKeys: Int = 1024) {
        self.burst = max(1, burst)
        self.perSecond = max(0, perSecond)
        self.maximumKeys = max(1, maximumKeys)
    }

    public var trackedKeys: Int { buckets.count }

    public mutating func admit(_ key: String, nowNanoseconds: UInt64) -> Decision {
        var bucket = buckets[key] ?? Bucket(tokens: Double(burst), updatedNanoseconds: nowNanoseconds, suppressed: 0)
        // A clock that went backwards refills nothing rather than trapping on the subtraction.
        let elapsed = nowNanoseconds >= bucket.updatedNanoseconds ? Double(nowNanoseconds - bucket.updatedNanoseconds) / 1e9 : 0
        bucket.tokens = min(Double(burst), bucket.tokens + elapsed * perSecond)
        bucket.updatedNanoseconds = nowNanoseconds
        let decision: Decision
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            decision = .log(suppressed: bucket.suppressed)
            bucket.suppressed = 0
        } else {
            bucket.suppressed += 1
            decision = .suppress
        }
        if buckets[key] == nil, buckets.count >= maximumKeys, let idlest = buckets.min(by: { $0.value.updatedNanoseconds < $1.value.updatedNanoseconds })?.key {
            buckets[idlest] = nil
        }
        buckets[key] = bucket
        return decision
    }
}

/// A logger whose warnings are rate-limited per key (a reason, a client address...). A logged
/// line carries `suppressed` = how many lines of its key were dropped before it.
public final class RateLimitedLogger: Sendable {
    public let logger: Logger
    private let limiter: Mutex<LogRateLimiter>

    public init(logger: Logger, limiter: LogRateLimiter = LogRateLimiter()) {
        self.logger = logger
        self.limiter = Mutex(limiter)
    }

    public func warning(key: String, _ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata = [:],
                        logger override: Logger? = nil) {
        let now = ContinuousClock.now.nanosecondsSinceReference
        guard case .log(let suppressed) = limiter.withLock({ $0.admit(key, nowNanoseconds: now) }) else { return }
        var metadata = metadata()
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        (override ?? logger).warning(message(), metadata: metadata)
    }
}

/// Monotonic nanoseconds since the first use in this process.
private let processStart = ContinuousClock.now

extension ContinuousClock.Instant {
    var nanosecondsSinceReference: UInt64 {
        let (seconds, attoseconds) = (self - processStart).components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }
}
