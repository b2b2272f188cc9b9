import Testing
@testable import Payments

@Suite("Payment order ids")
struct PaymentOrderIDTests {
    @Test func textRoundTripAndTimeOrder() {
        var generator = PaymentOrderIDGenerator()
        var previous: PaymentOrderID?
        for index in 0..<5000 {
            // Many ids in the same millisecond stay strictly increasing.
            let id = generator.next(unixMilliseconds: 1_700_000_000_000 + Int64(index / 1000), random: UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
            #expect(PaymentOrderID(id.description) == id)
            #expect(id.description.count == 36)
            #expect(Array(id.description)[14] == "7")
            if let previous { #expect(previous < id) }
            previous = id
        }
        #expect(previous?.unixMilliseconds == 1_700_000_000_004)
    }

    @Test(arguments: ["", "not-a-uuid", "0190d1c1-2a3b-7c4d-8e5f-60718293a4b", "0190d1c1x2a3b-7c4d-8e5f-60718293a4b5", "0190d1c1-2a3b-7c4d-8e5f-60718293a4bg"])
    func malformedTextIsRejected(text: String) {
        #expect(PaymentOrderID(text) == nil)
    }
}

@Suite("ProcessPaymentService rules")
struct ProcessPaymentRulesTests {
    let order = PaymentOrderID.make(unixMilliseconds: 1_700_000_000_000, sequence: 1, random: 42)

    func result(_ status: PspStatus, reference: String? = "pi_1", error: String? = nil) -> PspResult {
        PspResult(paymentOrderID: order, status: status, pspReference: reference, eventTimeMilliseconds: 1, errorCode: error, psp: "stripe")
    }

    func run(_ results: [PspResult]) -> (PaymentOrderState, [ResultOutcome], [PaymentStatus?]) {
        var state = PaymentOrderState(updatedAtMilliseconds: 0, amountMinor: 5000, currency: "EUR")
        var outcomes: [ResultOutcome] = []
        var emitted: [PaymentStatus?] = []
        for (index, result) in results.enumerated() {
            let decision = ProcessPaymentRules.decide(state, result, nowMilliseconds: Int64(index + 1))
            state = decision.state
            outcomes.append(decision.outcome)
            emitted.append(decision.emitted)
        }
        return (state, outcomes, emitted)
    }

    @Test func pendingBecomesTerminalOnce() {
        let (state, outcomes, emitted) = run([result(.successful)])
        #expect(state.status == .successful)
        #expect(outcomes == [.applied])
        #expect(emitted == [.successful])
        let (failed, _, failedEvents) = run([result(.failed, error: "card_declined")])
        #expect(failed.status == .failed && failedEvents == [.failed])
    }

    @Test func pendingThenSuccessIsOneTransition() {
        let (state, outcomes, emitted) = run([result(.pending), result(.successful)])
        #expect(state.status == .successful)
        #expect(outcomes == [.recorded, .applied])
        #expect(emitted.compactMap { $0 } == [.successful])
        #expect(state.resultCount == 2)
    }

    @Test func duplicatesChangeNothing() {
        let results = [result(.pending), result(.successful)]
        let (once, _, _) = run(results)
        let (thrice, outcomes, emitted) = run(results + results + results)
        #expect(thrice.status == once.status)
        #expect(outcomes.filter { $0 == .applied }.count == 1)
        #expect(outcomes.filter { $0 == .duplicate }.count == 4)
        #expect(emitted.compactMap { $0 } == [.successful])
    }

    @Test func outOfOrderPendingAfterSuccessIsStale() {
        let (state, outcomes, emitted) = run([result(.successful), result(.pending), result(.pending)])
        #expect(state.status == .successful)
        #expect(outcomes == [.applied, .stale, .duplicate])
        #expect(emitted.compactMap { $0 } == [.successful])
    }

    @Test func terminalStatesAreStickyAndContradictionsAreConflicts() {
        let (state, outcomes, emitted) = run([result(.successful), result(.failed, error: "card_declined"), result(.failed, error: "card_declined")])
        #expect(state.status == .successful)
        #expect(outcomes == [.applied, .conflict, .duplicate])
        #expect(emitted.compactMap { $0 } == [.successful])
        // Same status, different content (another reference): a conflict, not a duplicate.
        let (_, second, _) = run([result(.successful, reference: "pi_1"), result(.successful, reference: "pi_2")])
        #expect(second == [.applied, .conflict])
    }

    @Test func stateRecordRoundTrips() {
        let (state, _, _) = run([result(.pending), result(.successful), result(.failed)])
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
}

@Suite("Simulated PSPs")
struct SimulatedPSPTests {
    let order = PaymentOrderID.make(unixMilliseconds: 1_700_000_000_000, sequence: 7, random: 99)

    @Test func tokensFollowTheContract() async throws {
        let stripe = SimulatedPSP(name: "stripe")
        func charge(_ token: String) async throws -> PspCallResult {
            let id = PaymentOrderID.make(unixMilliseconds: 1_700_000_000_000, sequence: UInt16(token.count), random: UInt64(token.hashValue.magnitude))
            return try await stripe.charge(paymentOrderID: id, amountMinor: 5000, currency: "EUR", paymentMethod: token)
        }
        #expect(try await charge("tok_visa").status == .successful)
        #expect(try await charge("tok_chargeDeclined").errorCode == "card_declined")
        #expect(try await charge("tok_insufficientFunds").errorCode == "insufficient_funds")
        #expect(try await charge("tok_unknown").errorCode == "invalid_payment_method")
        let pending = try await charge("tok_pending")
        #expect(pending.status == .pending && pending.retryAfterMilliseconds != nil)
    }

    /// References are the order id's last 24 hex digits, as the dashed text form spells them.
    @Test func referencesAreTheIdsLastTwentyFourHexDigits() {
        var generator = SystemRandomNumberGenerator()
        for sequence in 0..<500 {
            let id = PaymentOrderID.make(unixMilliseconds: Int64.random(in: 0...(1 << 47), using: &generator),
                                         sequence: UInt16(sequence), random: UInt64.random(in: 0...UInt64.max, using: &generator))
            let digits = String(id.description.filter { $0 != "-" }.suffix(24))
            #expect(SimulatedPSPBehavior.reference(psp: "stripe", paymentOrderID: id) == "pi_" + digits)
            #expect(SimulatedPSPBehavior.reference(psp: "adyen", paymentOrderID: id) == "PSP" + digits.uppercased())
        }
    }

    @Test func flakyFailsTwiceThenSucceedsAndRepeatsAreIdempotent() async throws {
        let adyen = SimulatedPSP(name: "adyen")
        for _ in 0..<SimulatedPSPBehavior.flakyFailures {
            await #expect(throws: PspTransientError.self) {
                _ = try await adyen.charge(paymentOrderID: order, amountMinor: 1, currency: "EUR", paymentMethod: "tok_flaky")
            }
        }
        let first = try await adyen.charge(paymentOrderID: order, amountMinor: 1, currency: "EUR", paymentMethod: "tok_flaky")
        #expect(first.status == .successful)
        #expect(first.pspReference?.hasPrefix("PSP") == true)
        // The order id is the idempotency key: a repeated call answers the first outcome.
        let again = try await adyen.charge(paymentOrderID: order, amountMinor: 1, currency: "EUR", paymentMethod: "tok_visa")
        #expect(again == first)
    }

    @Test func pendingSettlesLater() async throws {
        let stripe = SimulatedPSP(name: "stripe")
        let first = try await stripe.charge(paymentOrderID: order, amountMinor: 1, currency: "EUR", paymentMethod: "tok_pending")
        #expect(try await stripe.retrieve(paymentOrderID: order, paymentMethod: "tok_pending").status == .pending)
        try await Task.sleep(for: .milliseconds(Int(first.retryAfterMilliseconds ?? 0) + 50))
        let settled = try await stripe.retrieve(paymentOrderID: order, paymentMethod: "tok_pending")
        #expect(settled.status == .successful && settled.pspReference == first.pspReference)
        // A simulator that lost its memory (the executor restarted) answers from the token.
        let restarted = SimulatedPSP(name: "stripe")
        let remembered = try await restarted.retrieve(paymentOrderID: order, paymentMethod: "tok_pending")
        #expect(remembered == settled)
    }

    /// Memory stays bounded under sustained load: orders are forgotten `memory` after their
    /// first charge, and a forgotten order is answered from its token.
    @Test func forgetsOrdersAfterItsMemory() async throws {
        let stripe = SimulatedPSP(name: "stripe", memory: .milliseconds(100))
        let pending = try await stripe.charge(paymentOrderID: order, amountMinor: 1, currency: "EUR", paymentMethod: "tok_pending")
        for sequence in 0..<2_000 {
            let id = PaymentOrderID.make(unixMilliseconds: 1_700_000_000_000, sequence: UInt16(sequence), random: 1)
            _ = try await stripe.charge(paymentOrderID: id, amountMinor: 1, currency: "EUR", paymentMethod: "tok_visa")
        }
        #expect(stripe.rememberedOrders == 2_001)
        // Remembered: the first outcome, whatever the token says now.
        #expect(try await stripe.charge(paymentOrderID: order, amountMinor: 1, currency: "EUR", paymentMethod: "tok_visa") == pending)
        try await Task.sleep(for: .milliseconds(150))
        let later = PaymentOrderID.make(unixMilliseconds: 1_700_000_000_001, sequence: 1, random: 1)
        _ = try await stripe.charge(paymentOrderID: later, amountMinor: 1, currency: "EUR", paymentMethod: "tok_visa")
        #expect(stripe.rememberedOrders == 1)
        // Forgotten: answered from the token, as after a restart.
        let forgotten = try await stripe.charge(paymentOrderID: order, amountMinor: 1, currency: "EUR", paymentMethod: "tok_visa")
        #expect(forgotten.status == .successful && forgotten.pspReference == pending.pspReference)
    }
}
