import Testing
@testable import Telemetry

@Suite("Log rate limiter")
struct LogRateLimiterTests {
    @Test func burstThenRefillCountsSuppressed() {
        var limiter = LogRateLimiter(burst: 2, perSecond: 1)
        #expect(limiter.admit("k", nowNanoseconds: 0) == .log(suppressed: 0))
        #expect(limiter.admit("k", nowNanoseconds: 0) == .log(suppressed: 0))
        for _ in 0..<100 { #expect(limiter.admit("k", nowNanoseconds: 1) == .suppress) }
        // Other keys have their own bucket.
        #expect(limiter.admit("other", nowNanoseconds: 1) == .log(suppressed: 0))
        // One second later one token is back, and the line says what was dropped.
        #expect(limiter.admit("k", nowNanoseconds: 1_000_000_001) == .log(suppressed: 100))
        #expect(limiter.admit("k", nowNanoseconds: 1_000_000_002) == .suppress)
    }

    @Test func keysAreBoundedAndClockGoingBackDoesNotTrap() {
        var limiter = LogRateLimiter(burst: 1, perSecond: 0, maximumKeys: 3)
        for index in 0..<50 { _ = limiter.admit("client-\(index)", nowNanoseconds: UInt64(index)) }
        #expect(limiter.trackedKeys == 3)
        var backwards = LogRateLimiter(burst: 1, perSecond: 1)
        _ = backwards.admit("k", nowNanoseconds: 10_000_000_000)
        #expect(backwards.admit("k", nowNanoseconds: 0) == .suppress)
    }
}
