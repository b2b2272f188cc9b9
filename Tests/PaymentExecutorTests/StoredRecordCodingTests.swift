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
        attempt.pspReference = "pi_1"
        attempt.pendingSince = 1_795_000_000_000
        attempt.followUps = 2
        return attempt
    }

    static func entry() -> OutboxEntry {
        OutboxEntry(producerId: 42, producerEpoch: 7, baseSequence: Int32.max - 1, sealed: true, records: [
            OutboxRecord(attemptKey: "01a20a5d-4cc7-7000-9aa9-8e630a69492b", resultIndex: 1, timestamp: 1_795_000_000_000,
                         value: Data([0, 1, 2, 255]),
                         headers: [.init(key: "traceparent", value: Data("00-ab-cd-01".utf8)), .init(key: "null", value: nil)]),
            OutboxRecord(attemptKey: "x", resultIndex: 0, timestamp: 0, value: Data(), headers: []),
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

    /// A refund's attempt carries its section after the common fields; a payment's record is
    /// byte for byte what it was without one.
    @Test func refundAttemptsRoundTripAndKeyTheirResultsByTheirOrder() throws {
        var refund = Self.attempt()
        refund.order.refund = .init(refundId: "01a20a5d-4cc7-7000-9aa9-8e630a69492b-r3", paymentPspReference: "PSP1")
        #expect(try PaymentExecutor.Attempt.decode(refund.encoded()) == refund)
        #expect(refund.encoded().starts(with: Self.attempt().encoded()) && refund.encoded().count > Self.attempt().encoded().count)
        #expect(refund.order.journalKey == "01a20a5d-4cc7-7000-9aa9-8e630a69492b-r3" && Self.attempt().order.journalKey == Self.attempt().order.paymentOrderId)
        refund.order.refund?.paymentPspReference = nil
        #expect(try PaymentExecutor.Attempt.decode(refund.encoded()) == refund)
        #expect(throws: (any Error).self) { try PaymentExecutor.Attempt.decode(Self.attempt().encoded() + [0x53]) }
        let record = try PaymentExecutor.outboxRecord(refund, index: 0)
        #expect(record.attemptKey == "01a20a5d-4cc7-7000-9aa9-8e630a69492b-r3")
        #expect(record.kafkaRecord.key == Array("01a20a5d-4cc7-7000-9aa9-8e630a69492b".utf8))
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
        var writer = StoredRecordFormat.buffer()
        let order = Self.attempt().order
        writer.writeStoredString(order.paymentOrderId)
        writer.writeInteger(order.amount)
        for field in [order.currency, order.paymentMethod, order.psp, "resulted"] { writer.writeStoredString(field) }
        #expect(throws: (any Error).self) { try PaymentExecutor.Attempt.decode(writer.storedBytes) }
    }

    /// The layouts byte for byte, as the executor has always written them (captured before the
    /// codec moved onto ByteBuffer): journals, outbox entries and producer state of a running
    /// executor stay readable.
    @Test func layoutsAreStable() {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { byte in String(byte >> 4, radix: 16) + String(byte & 15, radix: 16) }.joined() }
        #expect(hex(Self.attempt().encoded()) == Self.goldenAttempt)
        #expect(hex(Self.entry().encoded()) == Self.goldenEntry)
        var state = OutboxProducerState(producerId: 9, producerEpoch: 2)
        _ = state.reserve(5, partition: 2)
        _ = state.reserve(3, partition: 0)
        #expect(hex(state.encoded()) == "b10000000000000009000200000000000000020000000200000000000000030000000200000005")
    }

    static let goldenAttempt = "b10000002430316132306135642d346363372d373030302d396161392d3865363330613639343932620000000000001388000000034555520000000b746f6b5f70656e64696e6700000005616479656e000000067175657565640000000000000003000000020000000750454e44494e4701000000057073705f310000000001a1ee565e000100000000000000c8000000064641494c454400010000000d636172645f6465636c696e6564010000001044c3a9636c696ec3a96520226e6f7722ffffffffffffffff0000000000000000010100000010616479656e3a2074696d6564206f7574010000003730302d30616637363531393136636434336464383434386562323131633830333139632d623761643662373136393230333333312d3031010000000470695f3101000001a1ee565e000000000000000002"
    static let goldenEntry = "b1000000000000002a00077ffffffe01000000020000002430316132306135642d346363372d373030302d396161392d3865363330613639343932620000000000000001000001a1ee565e0000000004000102ff000000020000000b7472616365706172656e74010000000b30302d61622d63642d3031000000046e756c6c000000000178000000000000000000000000000000000000000000000000"

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

