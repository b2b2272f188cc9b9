import Protocol
import Testing

@Suite("Consumer lag")
struct ConsumerLagTests {
    @Test func lagIsTheDistanceToTheEnd() {
        #expect(consumerLag(endOffset: 10, committedOffset: 4) == 6)
        #expect(consumerLag(endOffset: 10, committedOffset: 10) == 0)
        #expect(consumerLag(endOffset: 0, committedOffset: -1) == 1)
    }

    /// Offsets come from clients and stores: whatever they hold, the lag is a number, not a trap.
    @Test func extremesSaturate() {
        #expect(consumerLag(endOffset: 10, committedOffset: 11) == 0)
        #expect(consumerLag(endOffset: 10, committedOffset: .min) == .max)
        #expect(consumerLag(endOffset: .max, committedOffset: -1) == .max)
        #expect(consumerLag(endOffset: .min, committedOffset: .max) == 0)
        #expect(consumerLag(endOffset: -5, committedOffset: .max) == 0)
    }
}
