import Payments
import Testing
@testable import PaymentService

/// The stored layout of an order's hot state (`payments.orders`): round trips, and every other
/// layout is refused rather than misread.
@Suite("Order state layout")
struct PaymentOrderStateLayoutTests {
    @Test func stateRecordRoundTrips() {
        var state = PaymentOrderState(status: .successful, updatedAtMilliseconds: 1_700_000_000_123, amountMinor: 5000, currency: "EUR")
        state.seenPending = 0x0102_0304_0506_0708
        state.seenSuccessful = .max
        state.seenFailed = 7
        state.resultCount = 3
        let bytes = state.encoded()
        #expect(bytes.count == PaymentOrderState.storedSize)
        #expect(PaymentOrderState(decoding: bytes) == state)
        #expect(PaymentOrderState(decoding: bytes.prefix(10)) == nil)
        var unknownStatus = bytes
        unknownStatus[1] = 9
        #expect(PaymentOrderState(decoding: unknownStatus) == nil)
    }

    @Test func stateRecordCarriesAmountAndRefusesEveryOtherLayout() {
        var state = PaymentOrderState(updatedAtMilliseconds: 1_700_000_000_000, amountMinor: 5000, currency: "EUR")
        state.seenSuccessful = 42
        let bytes = state.encoded()
        let decoded = PaymentOrderState(decoding: bytes)
        #expect(decoded == state && decoded?.amountMinor == 5000 && decoded?.currency == "EUR")
        // From a slice of a larger buffer (how LMDB values arrive) as well.
        #expect(PaymentOrderState(decoding: ([0xAA] + bytes + [0xBB])[1...bytes.count]) == state)
        // Cut short, too long, another version, a negative amount, no currency: refused, not misread.
        #expect(PaymentOrderState(decoding: bytes.prefix(38)) == nil)
        #expect(PaymentOrderState(decoding: bytes + [0]) == nil)
        var version1 = bytes
        version1[0] = 1
        #expect(PaymentOrderState(decoding: version1) == nil)
        var negative = bytes
        negative[38] = 0x80
        #expect(PaymentOrderState(decoding: negative) == nil)
        var noCurrency = bytes
        noCurrency.replaceSubrange(46..<49, with: [0, 0, 0])
        #expect(PaymentOrderState(decoding: noCurrency) == nil)
    }

    /// The bytes of one known state, so a change of layout is a decision, not an accident.
    @Test func layoutIsStable() {
        var state = PaymentOrderState(status: .failed, updatedAtMilliseconds: 0x0102_0304_0506, amountMinor: 258, currency: "USD")
        state.seenFailed = 0xAB
        state.resultCount = 2
        let expected: [UInt8] = [2, 2] + [UInt8](repeating: 0, count: 16) + [0, 0, 0, 0, 0, 0, 0, 0xAB] + [0, 0, 0, 2]
            + [0, 0, 1, 2, 3, 4, 5, 6] + [0, 0, 0, 0, 0, 0, 1, 2] + Array("USD".utf8)
        #expect(state.encoded() == expected)
    }
}
