import Foundation
import Payments
import Testing
@testable import PaymentExecutor

@Suite("Executor stored records")
struct StoredRecordCodingTests {
    static func attempt() -> PaymentExecutor.Attempt {
        var attempt = PaymentExecutor.Attempt(
            order: .init(paymentOrderId: "01a20a5d-4cc7-7000-9aa9-8e630a69492b", amount: 5000, currency: "EUR",
                         paymentMethod: "tok_pending", psp: "adyen"),
            stage: .queued)
        attempt.calls = 3
        attempt.results = [
            .init(status: .pending, pspReference: "psp_1", errorCode: nil, errorMessage: nil, eventTime: 1_795_000_000_000,
                  retryAfterMilliseconds: 200),
            .init(status: .failed, pspReference: nil, errorCode: "card_declined", errorMessage: "Déclinée \"now\"",
                  eventTime: -1, retryAfterMilliseconds: nil),
        ]
        attempt.published = 1
        attempt.lastError = "adyen: timed out"
        attempt.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        return attempt
    }

    static func entry() -> OutboxEntry {
        OutboxEntry(producerId: 42, producerEpoch: 7, baseSequence: Int32.max - 1, sealed: true, records: [
            OutboxRecord(paymentOrderId: "01a20a5d-4cc7-7000-9aa9-8e630a69492b", resultIndex: 1, timestamp: 1_795_000_000_000,
                         value: Data([0, 1, 2, 255]),
                         headers: [.init(key: "traceparent", value: Data("00-ab-cd-01".utf8)), .init(key: "null", value: nil)]),
            OutboxRecord(paymentOrderId: "x", resultIndex: 0, timestamp: 0, value: Data(), headers: []),
        ])
    }

    @Test func attemptsRoundTrip() throws {
        let attempt = Self.attempt()
        #expect(try PaymentExecutor.Attempt.decode(attempt.encoded()) == attempt)
        for stage in [PaymentExecutor.Attempt.Stage.calling, .queued, .settled] {
            var staged = attempt
            staged.stage = stage
            #expect(try PaymentExecutor.Attempt.decode(staged.encoded()).stage == stage)
        }
    }

    @Test func outboxEntriesAndProducerStateRoundTrip() throws {
        let entry = Self.entry()
        #expect(try OutboxEntry.decode(entry.encoded()) == entry)
        var state = OutboxProducerState(producerId: 9, producerEpoch: 2)
        _ = state.reserve(5, partition: 2)
        _ = state.reserve(3, partition: 0)
        #expect(try OutboxProducerState.decode(state.encoded()) == state)
    }

    /// No release wrote JSON records or other stages: such records are refused (and the journal
    /// quarantines them, see PoisonIsolationTests), not read.
    @Test func jsonRecordsAndUnknownStagesAreRefused() throws {
        let json = Array(#"{"order":{"paymentOrderId":"x"},"stage":"calling"}"#.utf8)
        #expect(throws: (any Error).self) { try PaymentExecutor.Attempt.decode(json) }
        #expect(throws: (any Error).self) { try OutboxEntry.decode(json) }
        #expect(throws: (any Error).self) { try OutboxProducerState.decode(json) }
        var writer = ByteWriter()
        let order = Self.attempt().order
        for field in [order.paymentOrderId] { writer.string(field) }
        writer.integer(order.amount)
        for field in [order.currency, order.paymentMethod, order.psp, "resulted"] { writer.string(field) }
        #expect(throws: (any Error).self) { try PaymentExecutor.Attempt.decode(writer.bytes) }
    }

    @Test func damagedRecordsAreRefusedNotMisread() {
        let bytes = Self.entry().encoded()
        for length in [0, 1, 5, bytes.count / 2, bytes.count - 1] {
            #expect(throws: (any Error).self) { try OutboxEntry.decode(bytes.prefix(length)) }
        }
        #expect(throws: (any Error).self) { try OutboxEntry.decode(bytes + [0]) }  // trailing bytes
        var unknownFormat = bytes
        unknownFormat[0] = 0xB9
        #expect(throws: (any Error).self) { try OutboxEntry.decode(unknownFormat) }
        var badStage = Self.attempt().encoded()
        badStage[1] = 0xFF  // the order id's length becomes huge
        #expect(throws: (any Error).self) { try PaymentExecutor.Attempt.decode(badStage) }
    }
}
