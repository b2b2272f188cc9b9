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

    /// PENDING contradicts nothing: another PENDING (a reconciliation follow-up flagged
    /// needs_attention, a PSP that stopped answering) is recorded on a PENDING order and stale on
    /// a terminal one, never a conflict.
    @Test func pendingOfOtherContentIsRecordedOrStaleNotAConflict() {
        let (state, outcomes, emitted) = run([result(.pending), result(.pending, error: "needs_attention"), result(.successful),
                                              result(.pending, error: "psp_unconfirmed")])
        #expect(state.status == .successful)
        #expect(outcomes == [.recorded, .recorded, .applied, .stale])
        #expect(emitted.compactMap { $0 } == [.successful])
    }
}
