/// A token bucket: `burst` tokens at most, refilled at `rate` per second; a request takes
/// one. Time is given (seconds on a monotonic clock), never read, so tests drive it.
public struct TokenBucket: Sendable, Equatable {
    public let rate: Double
    public let burst: Double
    private(set) var tokens: Double
    private(set) var updatedAt: Double

    public init(rate: Double, burst: Int, now: Double) {
        self.rate = rate
        self.burst = Double(max(1, burst))
        self.tokens = self.burst
        self.updatedAt = now
    }

    /// nil when the request may go; else the whole seconds after which one token will be
    /// there (a `Retry-After` value, at least 1).
    public mutating func take(now: Double) -> Int? {
        refill(now: now)
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        let wait = (1 - tokens) / rate
        return Int(min(86_400, max(1, wait.rounded(.up))))
    }

    /// Whether the bucket is full by `now`: then forgetting it changes nothing, as a new
    /// bucket starts full.
    public func isFull(now: Double) -> Bool {
        var copy = self
        copy.refill(now: now)
        return copy.tokens >= burst
    }

    private mutating func refill(now: Double) {
        // A clock that went backwards (it should not: monotonic) adds nothing.
        let elapsed = max(0, now - updatedAt)
        tokens = min(burst, tokens + elapsed * rate)
        updatedAt = max(updatedAt, now)
    }
}

/// The per-key limit: one bucket per key prefix, at most `maximumKeys` of them so no number
/// of keys grows it without bound. When full, buckets that have refilled are dropped (a new
/// bucket starts full, so nothing is lost); if none has, the least recently used goes.
public struct RateLimiter: Sendable {
    public struct Limit: Sendable, Equatable {
        /// Requests per second; 0 for no limit.
        public var rate: Double
        public var burst: Int
        public init(rate: Double, burst: Int) {
            self.rate = rate
            self.burst = burst
        }
    }

    public let maximumKeys: Int
    private var buckets: [String: TokenBucket] = [:]

    public init(maximumKeys: Int) { self.maximumKeys = max(1, maximumKeys) }

    public var count: Int { buckets.count }

    /// nil: allowed; else the `Retry-After` seconds. A key whose limit changed (re-created
    /// with the same prefix is impossible, but a node restarted with another default) gets a
    /// new bucket.
    public mutating func take(_ prefix: String, limit: Limit, now: Double) -> Int? {
        guard limit.rate > 0, limit.rate.isFinite else { return nil }
        if var bucket = buckets[prefix], bucket.rate == limit.rate, bucket.burst == Double(max(1, limit.burst)) {
            let answer = bucket.take(now: now)
            buckets[prefix] = bucket
            return answer
        }
        if buckets[prefix] == nil, buckets.count >= maximumKeys { makeRoom(now: now) }
        var bucket = TokenBucket(rate: limit.rate, burst: limit.burst, now: now)
        let answer = bucket.take(now: now)
        buckets[prefix] = bucket
        return answer
    }

    private mutating func makeRoom(now: Double) {
        buckets = buckets.filter { !$0.value.isFull(now: now) }
        guard buckets.count >= maximumKeys, let oldest = buckets.min(by: { $0.value.updatedAt < $1.value.updatedAt }) else { return }
        buckets[oldest.key] = nil
    }
}
