import Payments
import Testing
@testable import PaymentExecutor

/// The executor's attempt stages, driven with no PSP, store or clock: each test reports what the
/// I/O loop would have seen and checks the next action and the attempt the journal would store.
@Suite("Executor attempt stages")
struct AttemptStagesTests {
    typealias Attempt = PaymentExecutor.Attempt
    typealias StoredResult = PaymentExecutor.StoredResult

    static let order = PaymentExecutor.OrderToPay(paymentOrderId: "01a20a5d-4cc7-7000-9aa9-8e630a69492b", amount: 5000, currency: "EUR",
                                                  paymentMethod: "tok_visa", psp: "stripe")

    static func stages(_ stage: Attempt.Stage = .calling, results: [StoredResult] = [], calls: Int = 3,
                       backoff: ClosedRange<Int> = 50...300) -> AttemptStages {
        var attempt = Attempt(order: order, stage: stage)
        attempt.results = results
        return AttemptStages(attempt, maximumCalls: calls, backoffMilliseconds: backoff)
    }

    /// A moment just after every result's event time: young PENDING payments.
    static let now: Int64 = 1_795_000_000_100

    static func result(_ status: PspStatus, retryAfter: Int64? = nil) -> StoredResult {
        StoredResult(status: status, pspReference: "pi_1", errorCode: nil, errorMessage: nil, eventTime: 1_795_000_000_000,
                     retryAfterMilliseconds: retryAfter)
    }

    @Test func aFinalAnswerSettlesTheAttemptWhenItIsQueued() {
        var stages = Self.stages()
        #expect(stages.start(nowMilliseconds: Self.now) == .callPSP(.charge, call: 1))
        #expect(stages.answered(Self.result(.successful)) == .queue(fromResult: 0))
        // Journaled settled with its outbox entry: no second journal write.
        #expect(stages.attempt.stage == .settled && stages.attempt.calls == 1 && stages.attempt.results == [Self.result(.successful)])
        #expect(stages.queued(nowMilliseconds: Self.now) == .finished)
    }

    @Test func aPendingAnswerWaitsAndRetrievesUntilFinal() {
        var stages = Self.stages()
        #expect(stages.start(nowMilliseconds: Self.now) == .callPSP(.charge, call: 1))
        #expect(stages.answered(Self.result(.pending, retryAfter: 750)) == .queue(fromResult: 0))
        #expect(stages.attempt.stage == .queued)
        #expect(stages.queued(nowMilliseconds: Self.now) == .waitForPending(milliseconds: 750))
        #expect(stages.waited() == .callPSP(.retrieve, call: 1))
        #expect(stages.attempt.stage == .calling)
        #expect(stages.answered(Self.result(.pending)) == .queue(fromResult: 1))
        #expect(stages.queued(nowMilliseconds: Self.now) == .waitForPending(milliseconds: AttemptStages.defaultPendingWaitMilliseconds))
        #expect(stages.waited() == .callPSP(.retrieve, call: 1))
        #expect(stages.answered(Self.result(.failed)) == .queue(fromResult: 2))
        #expect(stages.attempt.stage == .settled && stages.attempt.calls == 3)
        #expect(stages.attempt.results.map(\.status) == [.pending, .pending, .failed])
        #expect(stages.queued(nowMilliseconds: Self.now) == .finished)
    }

    @Test func transientFailuresBackOffDoublingUpToTheBound() {
        var stages = Self.stages(calls: 5, backoff: 50...300)
        #expect(stages.start(nowMilliseconds: Self.now) == .callPSP(.charge, call: 1))
        var backoffs: [Int] = []
        for call in 1...4 {
            guard case .backOff(let upTo, _) = stages.failed(reason: "timeout \(call)") else {
                Issue.record("a failure is followed by a back-off")
                return
            }
            backoffs.append(upTo)
            #expect(stages.backedOff(nowMilliseconds: 1) == .callPSP(.charge, call: call + 1))
        }
        #expect(backoffs == [50, 100, 200, 300])
        #expect(stages.attempt.lastError == "timeout 4" && stages.attempt.calls == 4)
        // An answer after failures ends the round; the next round starts from the lower bound.
        #expect(stages.answered(Self.result(.pending)) == .queue(fromResult: 0))
        _ = stages.queued(nowMilliseconds: Self.now)
        #expect(stages.waited() == .callPSP(.retrieve, call: 1))
        #expect(stages.failed(reason: "again") == .backOff(upToMilliseconds: 50, atLeastMilliseconds: 0))
    }

    @Test func outOfCallsTheAttemptFailsVisibly() {
        var stages = Self.stages(calls: 2)
        _ = stages.start(nowMilliseconds: Self.now)
        #expect(stages.failed(reason: "connection refused") == .backOff(upToMilliseconds: 50, atLeastMilliseconds: 0))
        #expect(stages.backedOff(nowMilliseconds: 7) == .callPSP(.charge, call: 2))
        #expect(stages.failed(reason: "timed out") == .backOff(upToMilliseconds: 100, atLeastMilliseconds: 0))
        #expect(stages.backedOff(nowMilliseconds: 9) == .queue(fromResult: 0))
        #expect(stages.attempt.results == [StoredResult(status: .failed, errorCode: "psp_unreachable",
                                                        errorMessage: "stripe did not answer after 2 calls: timed out", eventTime: 9)])
        #expect(stages.attempt.stage == .settled && stages.attempt.calls == 2)
        #expect(stages.queued(nowMilliseconds: Self.now) == .finished)
    }

    /// A PSP's Retry-After is a floor for the back-off, bounded to a minute.
    @Test func retryAfterIsTheLeastWait() {
        var stages = Self.stages(calls: 3, backoff: 50...300)
        _ = stages.start(nowMilliseconds: Self.now)
        #expect(stages.failed(reason: "429", retryAfterMilliseconds: 2000) == .backOff(upToMilliseconds: 2000, atLeastMilliseconds: 2000))
        _ = stages.backedOff(nowMilliseconds: 1)
        #expect(stages.failed(reason: "429", retryAfterMilliseconds: 10) == .backOff(upToMilliseconds: 100, atLeastMilliseconds: 10))
        _ = stages.backedOff(nowMilliseconds: 1)
        #expect(stages.failed(reason: "429", retryAfterMilliseconds: 3_600_000) == .backOff(upToMilliseconds: 60_000, atLeastMilliseconds: 60_000))
    }

    /// Out of calls after the PSP named the charge (it may have moved money): never FAILED,
    /// a PENDING result asked about again a minute later, with the reference.
    @Test func outOfCallsWithAJournaledReferenceStaysPending() {
        var stages = Self.stages(calls: 1)
        _ = stages.start(nowMilliseconds: Self.now)
        stages.referenceRecorded("pi_journaled")
        #expect(stages.attempt.pspReference == "pi_journaled" && stages.knownReference == "pi_journaled")
        _ = stages.failed(reason: "503")
        #expect(stages.backedOff(nowMilliseconds: 9) == .queue(fromResult: 0))
        #expect(stages.attempt.results == [StoredResult(status: .pending, pspReference: "pi_journaled", errorCode: "psp_unconfirmed",
                                                        errorMessage: "stripe did not answer after 1 calls: 503", eventTime: 9,
                                                        retryAfterMilliseconds: 60_000)])
        #expect(stages.attempt.stage == .queued)
        #expect(stages.queued(nowMilliseconds: 10) == .waitForPending(milliseconds: 60_000))
        #expect(stages.waited() == .callPSP(.retrieve, call: 1))
    }

    /// PENDING: the PSP's pace for the first minute, then 60 s doubling to an hour, then given
    /// up after 72 h with a last PENDING result that flags the order, never a guess.
    @Test func pendingPaymentsAreReconciledOnAGrowingScheduleAndGivenUpVisibly() {
        var stages = Self.stages()
        let start = Self.result(.pending, retryAfter: 2000).eventTime
        _ = stages.start(nowMilliseconds: start)
        _ = stages.answered(Self.result(.pending, retryAfter: 2000))
        #expect(stages.attempt.pendingSince == start)
        #expect(stages.queued(nowMilliseconds: start + 1000) == .waitForPending(milliseconds: 2000))
        var waits: [Int] = []
        var now = start + 60_000
        for _ in 0..<9 {
            guard case .waitForPending(let wait) = stages.queued(nowMilliseconds: now) else { Issue.record("no wait"); return }
            waits.append(wait)
            now += Int64(wait)
            _ = stages.waited()
            _ = stages.answered(StoredResult(status: .pending, pspReference: "pi_1", eventTime: now, retryAfterMilliseconds: 2000))
        }
        #expect(waits == [60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000, 3_600_000])
        #expect(stages.attempt.followUps == 9 && stages.attempt.pendingSince == start)
        // The journaled follow-up state survives a restart.
        #expect(Attempt.decodeForTests(stages.attempt.encoded()) == stages.attempt)
        let giveUp = start + 72 * 3_600_000
        #expect(stages.queued(nowMilliseconds: giveUp) == .queue(fromResult: stages.attempt.results.count - 1))
        let last = stages.attempt.results.last
        #expect(last?.status == .pending && last?.errorCode == AttemptStages.needsAttentionCode && last?.pspReference == "pi_1")
        #expect(stages.attempt.stage == .settled)
        #expect(stages.queued(nowMilliseconds: giveUp) == .finished)
    }

    @Test func aFollowUpScheduleNeverOverflows() {
        let schedule = FollowUpSchedule(promptMilliseconds: 0, firstMilliseconds: Int64.max / 2, maximumMilliseconds: Int64.max, giveUpMilliseconds: Int64.max)
        #expect(schedule.wait(afterFollowUps: 10_000) > 0)
        #expect(FollowUpSchedule().wait(afterFollowUps: Int.max) == 3_600_000)
    }

    @Test func anUnknownPSPFailsWithoutACall() {
        var stages = Self.stages()
        #expect(stages.start(nowMilliseconds: Self.now) == .callPSP(.charge, call: 1))
        #expect(stages.unknownPSP(nowMilliseconds: 5) == .queue(fromResult: 0))
        #expect(stages.attempt.results == [StoredResult(status: .failed, errorCode: "invalid_psp", errorMessage: "no PSP stripe", eventTime: 5)])
        #expect(stages.attempt.calls == 0 && stages.attempt.stage == .settled)
    }

    /// Attempts resumed after a restart go on from the stage the journal holds.
    @Test func resumedAttemptsGoOnFromTheirJournaledStage() {
        var calling = Self.stages(.calling, results: [Self.result(.pending)])
        #expect(calling.start(nowMilliseconds: Self.now) == .callPSP(.retrieve, call: 1))
        var waiting = Self.stages(.queued, results: [Self.result(.pending, retryAfter: 10)])
        #expect(waiting.start(nowMilliseconds: Self.now) == .waitForPending(milliseconds: 10))
        // Queued with a final result (journaled so by an earlier release): settled and saved.
        var final = Self.stages(.queued, results: [Self.result(.successful)])
        #expect(final.start(nowMilliseconds: Self.now) == .save)
        #expect(final.attempt.stage == .settled)
        #expect(final.saved() == .finished)
        var empty = Self.stages(.queued)
        #expect(empty.start(nowMilliseconds: Self.now) == .save)
        var settled = Self.stages(.settled, results: [Self.result(.failed)])
        #expect(settled.start(nowMilliseconds: Self.now) == .finished)
    }

    /// Writing an attempt over its journal entry keeps the published count the outbox sender
    /// advanced, and quarantines an entry that does not decode instead of overwriting it unseen.
    @Test func aJournalWriteKeepsThePublishedCountAndQuarantinesWhatItCannotRead() {
        var attempt = Attempt(order: Self.order, stage: .queued)
        attempt.results = [Self.result(.pending)]
        #expect(ExecutorPoison.journalWrite(attempt, over: nil) == (attempt, nil))
        var advanced = attempt
        advanced.published = 1
        let merged = ExecutorPoison.journalWrite(attempt, over: advanced.encoded())
        #expect(merged.attempt.published == 1 && merged.quarantined == nil)
        // Never moved back: a later count than the stored one stays.
        var later = attempt
        later.published = 2
        #expect(ExecutorPoison.journalWrite(later, over: advanced.encoded()).attempt.published == 2)
        let garbage: [UInt8] = [0xFF, 0x00, 0x13]
        let unreadable = ExecutorPoison.journalWrite(attempt, over: garbage)
        #expect(unreadable.attempt == attempt && unreadable.quarantined == garbage)
    }
}

extension PaymentExecutor.Attempt {
    static func decodeForTests(_ bytes: [UInt8]) -> Self? { try? decode(bytes) }
}

@Suite struct ParkedPaymentsTests {
    @Test func dueAttemptsComeBackEarliestFirstAndTheParkIsBounded() {
        let parked = ParkedPayments()
        func attempt(_ id: String) -> PaymentExecutor.Attempt {
            PaymentExecutor.Attempt(order: .init(paymentOrderId: id, amount: 1, currency: "EUR", paymentMethod: "tok", psp: "stripe"), stage: .queued)
        }
        #expect(parked.park(attempt("late"), dueAtMilliseconds: 300, limit: 3))
        #expect(parked.park(attempt("early"), dueAtMilliseconds: 100, limit: 3))
        #expect(parked.park(attempt("middle"), dueAtMilliseconds: 200, limit: 3))
        #expect(!parked.park(attempt("over"), dueAtMilliseconds: 50, limit: 3))
        #expect(parked.due(nowMilliseconds: 99).isEmpty)
        #expect(parked.due(nowMilliseconds: 250).map(\.order.paymentOrderId) == ["early", "middle"])
        #expect(parked.count == 1)
        #expect(parked.due(nowMilliseconds: 1000).map(\.order.paymentOrderId) == ["late"])
    }
}
