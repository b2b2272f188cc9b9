import Foundation
import Ledger
import LogStore
import Logging
import PaymentEvents
import Protocol
import Testing

@Suite("Ledger: double-entry postings, wallets, verification")
struct LedgerTests {
    final class Fixture: Sendable {
        let directory: String
        let store: LogStore
        let ledger: LedgerStore

        init() async throws {
            directory = NSTemporaryDirectory() + "paynode-ledger-\(UUID().uuidString.prefix(8))"
            var configuration = LogStoreConfiguration(dataDirectory: directory)
            configuration.initialMapSize = 16 << 20
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            store = try LogStore(configuration: configuration, logger: logger)
            ledger = LedgerStore(store: store)
            try await ledger.ensureTables()
        }

        deinit {
            store.close()
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// Posts `records` as the next offsets of partition 0.
        @discardableResult
        func post(_ records: [Record], partition: Int32 = 0) async throws -> LedgerBatchSummary {
            let from = try ledger.positions()[partition] ?? 0
            var inputs: [(record: Record, input: LedgerInput)] = []
            for (index, var record) in records.enumerated() {
                record.offset = from + Int64(index)
                inputs.append((record, PostingRules.input(record, source: EventSource(topic: "payment-events", partition: partition, offset: record.offset))))
            }
            return try await ledger.apply(inputs, partition: partition, from: from, nextOffset: from + Int64(records.count),
                                          nowMilliseconds: 1_800_000_000_000)
        }
    }

    static func record(_ event: some PaynodeEvent) throws -> Record {
        let encoded = try EventEnvelope.encode(event)
        return Record(timestamp: -1, key: nil, value: encoded.value, headers: encoded.headers)
    }

    static func succeeded(_ order: String, amount: Int64, merchant: String = "m_1", psp: String = "stripe", currency: String = "EUR") throws -> Record {
        var event = Paynode_Events_V1_PaymentSucceeded()
        event.paymentOrderID = order
        event.amountMinor = amount
        event.currency = currency
        event.psp = psp
        event.pspReference = "pi_\(order)"
        event.merchantID = merchant
        event.occurredAtUnixMs = 1_700_000_000_000
        return try record(event)
    }

    static func refunded(_ refund: String, order: String, amount: Int64, merchant: String = "m_1") throws -> Record {
        var event = Paynode_Events_V1_PaymentRefunded()
        event.paymentOrderID = order
        event.refundID = refund
        event.amountMinor = amount
        event.refundedTotalMinor = amount
        event.currency = "EUR"
        event.psp = "stripe"
        event.merchantID = merchant
        event.occurredAtUnixMs = 1_700_000_000_500
        return try record(event)
    }

    static let wallet = AccountID("merchant:EUR:m_1")!
    static let clearing = AccountID("psp:EUR:stripe")!

    @Test func aPaymentCreditsTheWalletFromThePSPsClearingAndTheBooksBalance() async throws {
        let fixture = try await Fixture()
        let summary = try await fixture.post([try Self.succeeded("o1", amount: 5000), try Self.succeeded("o2", amount: 700, merchant: "m:2")])
        #expect(summary.posted == 2)
        let wallet = try #require(try fixture.ledger.account(Self.wallet))
        #expect(wallet.balance == 5000 && wallet.credits == 5000 && wallet.debits == 0 && wallet.entries == 1)
        let clearing = try #require(try fixture.ledger.account(Self.clearing))
        #expect(clearing.balance == 5700 && clearing.debits == 5700 && clearing.entries == 2)
        // A merchant id with a colon reads back whole.
        #expect(try fixture.ledger.account(#require(AccountID("merchant:EUR:m:2")))?.balance == 700)
        let verification = try fixture.ledger.verify()
        #expect(verification.ok && verification.entries == 2 && verification.totals == ["EUR": 5700] && verification.accounts == 3, "\(verification.problems)")
        #expect(try fixture.ledger.positions() == [0: 2])
    }

    @Test func aRedeliveredEventPostsNothingAndOtherContentUnderItsIdIsAConflict() async throws {
        let fixture = try await Fixture()
        try await fixture.post([try Self.succeeded("o1", amount: 5000)])
        let again = try await fixture.post([try Self.succeeded("o1", amount: 5000), try Self.succeeded("o1", amount: 9999)])
        #expect(again.posted == 0 && again.duplicates == 1 && again.conflicts == 1)
        #expect(try fixture.ledger.account(Self.wallet)?.balance == 5000)
        #expect(try fixture.ledger.recordedProblems().conflicts == 1)
        #expect(try fixture.ledger.verify().ok)
    }

    @Test func aRefundBeyondTheWalletIsHeldWithItsReasonAndPostedWhenTheMoneyComes() async throws {
        let fixture = try await Fixture()
        try await fixture.post([try Self.succeeded("o1", amount: 1000)])
        let first = try await fixture.post([try Self.refunded("o1-r1", order: "o1", amount: 600), try Self.refunded("o1-r2", order: "o1", amount: 600)])
        #expect(first.posted == 1 && first.held == 1)
        let held = try fixture.ledger.held(for: Self.wallet)
        #expect(held.count == 1 && held[0].request.id == "refund:o1-r2" && held[0].reason.contains("has 400, less than the refund's 600"))
        var wallet = try #require(try fixture.ledger.account(Self.wallet))
        #expect(wallet.balance == 400 && wallet.held == 600)
        #expect(try fixture.ledger.verify().ok)
        // The held refund, redelivered, is the same transfer: not held twice.
        #expect(try await fixture.post([try Self.refunded("o1-r2", order: "o1", amount: 600)]).duplicates == 1)
        let later = try await fixture.post([try Self.succeeded("o2", amount: 300)])
        #expect(later.posted == 1 && later.released == 1)
        wallet = try #require(try fixture.ledger.account(Self.wallet))
        #expect(wallet.balance == 100 && wallet.held == 0 && wallet.debits == 1200 && wallet.credits == 1300)
        #expect(try fixture.ledger.held(for: Self.wallet).isEmpty)
        let verification = try fixture.ledger.verify()
        #expect(verification.ok && verification.entries == 4, "\(verification.problems)")
    }

    @Test func failedPaymentsMoveNothingAndUnreadableRecordsAreDeadLettered() async throws {
        let fixture = try await Fixture()
        var failed = Paynode_Events_V1_PaymentFailed()
        failed.paymentOrderID = "o9"
        failed.amountMinor = 100
        failed.currency = "EUR"
        failed.psp = "stripe"
        var noMerchant = Paynode_Events_V1_PaymentSucceeded()
        noMerchant.paymentOrderID = "o8"
        noMerchant.amountMinor = 100
        noMerchant.currency = "EUR"
        noMerchant.psp = "stripe"
        let garbage = Record(timestamp: -1, key: nil, value: [0xFF, 0x01], headers: EventEnvelope.headers(for: Paynode_Events_V1_PaymentSucceeded.self))
        let unnamed = Record(timestamp: -1, key: nil, value: [1, 2, 3], headers: [])
        let summary = try await fixture.post([try Self.record(failed), try Self.record(noMerchant), garbage, unnamed,
                                              try Self.succeeded("o7", amount: -5), try Self.succeeded("o6", amount: 5, currency: "eur")])
        #expect(summary.ignored == 1 && summary.deadLettered == 5 && summary.posted == 0)
        #expect(try fixture.ledger.recordedProblems().deadLetters == 5)
        #expect(try fixture.ledger.positions() == [0: 6])
        #expect(try fixture.ledger.verify().ok)
    }

    @Test func onlyTheConsumerAtAPartitionsPositionMayPostIt() async throws {
        let fixture = try await Fixture()
        try await fixture.post([try Self.succeeded("o1", amount: 1)])
        let record = try Self.succeeded("o2", amount: 1)
        await #expect(throws: LogStoreError.self) {
            try await fixture.ledger.apply([(record, PostingRules.input(record, source: EventSource(topic: "payment-events", partition: 0, offset: 0)))],
                                           partition: 0, from: 0, nextOffset: 1, nowMilliseconds: 1)
        }
        #expect(try fixture.ledger.account(Self.wallet)?.balance == 1)
    }

    @Test func anAccountsEntriesComeNewestFirstInPages() async throws {
        let fixture = try await Fixture()
        try await fixture.post((1...5).map { try Self.succeeded("o\($0)", amount: Int64($0)) })
        let first = try fixture.ledger.transactions(of: Self.wallet, before: nil, limit: 2)
        #expect(first.entries.map(\.amount) == [5, 4] && first.next == 3)
        let second = try fixture.ledger.transactions(of: Self.wallet, before: first.next, limit: 2)
        #expect(second.entries.map(\.amount) == [3, 2] && second.next == 1)
        let last = try fixture.ledger.transactions(of: Self.wallet, before: second.next, limit: 2)
        #expect(last.entries.map(\.amount) == [1] && last.next == nil)
        #expect(first.entries[0].transferId == "payment:o5" && first.entries[0].source.offset == 4 && first.entries[0].debit == Self.clearing)
    }

    @Test func verifyFindsAChangedEntryAndChangedTotals() async throws {
        let fixture = try await Fixture()
        try await fixture.post([try Self.succeeded("o1", amount: 5000), try Self.succeeded("o2", amount: 10)])
        // An entry's body changed in place (5000 -> 9000): its hash no longer matches.
        try await fixture.store.write { transaction in
            let table = try transaction.table("ledger.entries")
            let key = UInt64(0).bigEndianBytes
            let stored = try #require(try table.get(key))
            let text = String(decoding: stored.dropFirst(32), as: UTF8.self).replacingOccurrences(of: "\"amount\":5000", with: "\"amount\":9000")
            try table.put(key, Array(stored.prefix(32)) + Array(text.utf8))
        }
        let broken = try fixture.ledger.verify()
        #expect(!broken.ok)
        #expect(broken.problems.contains { $0.contains("entry 0: the chain hash does not match") })
        #expect(broken.problems.contains { $0.contains("account merchant:EUR:m_1") })
        #expect(broken.problems.contains { $0.contains("EUR: stored Σ 5010, the entries give 9010") })
    }

    @Test func aRebuildIsComparedByBalancesTotalsAndTransfersNotBySequence() async throws {
        let live = try await Fixture()
        let rebuilt = try await Fixture()
        // The same events, posted across partitions in another interleaving: equal.
        try await live.post([try Self.succeeded("o1", amount: 100)], partition: 0)
        try await live.post([try Self.succeeded("o2", amount: 50)], partition: 1)
        try await rebuilt.post([try Self.succeeded("o2", amount: 50)], partition: 1)
        try await rebuilt.post([try Self.succeeded("o1", amount: 100)], partition: 0)
        #expect(try live.ledger.differences(from: rebuilt.ledger).isEmpty)
        try await rebuilt.post([try Self.refunded("o1-r1", order: "o1", amount: 30)], partition: 0)
        let differences = try live.ledger.differences(from: rebuilt.ledger)
        #expect(differences.contains { $0.hasPrefix("account merchant:EUR:m_1: live debits 0, credits 150") })
        #expect(differences.contains { $0 == "transfer refund:o1-r1: live absent, rebuilt posted" })
    }

    @Test func accountIdsParseTheirOwnSpellingOnly() {
        #expect(AccountID("merchant:EUR:m_1")?.owner == "m_1")
        #expect(AccountID("psp:USD:adyen")?.kind == .psp)
        for text in ["merchant:eur:m_1", "merchant:EUR:", "wallet:EUR:m_1", "merchant:EURO:m_1", "merchant", ""] {
            #expect(AccountID(text) == nil, "\(text)")
        }
        #expect(AccountID(kind: .merchant, currency: "EUR", owner: String(repeating: "m", count: 256)) == nil)
    }
}
