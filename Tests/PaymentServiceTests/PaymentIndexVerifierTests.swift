import LogStore
import Payments
import Testing
@testable import PaymentService

@Suite("Payment index verification")
struct PaymentIndexVerifierTests {
    typealias Fixture = PaymentServiceTests.Fixture

    /// Three orders in three statuses, every index written by the service itself.
    private func populated() async throws -> Fixture {
        let fixture = try await Fixture()
        let (_, paid) = try await fixture.create("k-paid")
        let (_, declined) = try await fixture.create("k-declined", token: "tok_chargeDeclined")
        _ = try await fixture.create("k-waiting", token: "tok_pending")
        try await fixture.publish(paid, .successful)
        try await fixture.publish(declined, .failed, reference: nil, error: "card_declined")
        _ = try await fixture.service.processResults(partition: 0)
        return fixture
    }

    @Test func whatTheServiceWritesIsConsistent() async throws {
        let fixture = try await populated()
        defer { fixture.close() }
        let report = try PaymentIndexVerifier.verify(fixture.store)
        #expect(report.isConsistent, "\(report.problems)")
        #expect(report.orders == 3)
        #expect(report.indexEntries == 3)
    }

    @Test func aMissingEntryAStaleEntryAndAWrongCountAreEachNamed() async throws {
        let fixture = try await populated()
        defer { fixture.close() }
        let entries = try fixture.store.read { try #require($0.table(OrderStatusIndex.table)).scan() }
        let successful = try #require(entries.first { $0.key[0] == OrderStatusIndex.statusByte(.successful) })
        let pending = try #require(entries.first { $0.key[0] == OrderStatusIndex.statusByte(.pending) })
        let successfulId = Array(successful.key[1...])
        try await fixture.store.write { transaction in
            let index = try transaction.table(OrderStatusIndex.table)
            // The successful order loses its entry; the pending one is listed a second time as FAILED.
            _ = try index.delete(successful.key)
            try index.put(OrderStatusIndex.key(.failed, Array(pending.key[1...])), [])
            try OrderStatusCounts.add([.failed: 5], in: transaction)
        }
        let report = try PaymentIndexVerifier.verify(fixture.store)
        #expect(!report.isConsistent)
        #expect(report.problemCount == 3)
        #expect(report.problems.contains { $0.contains(AuditLog.hex(successfulId)) && $0.contains("has no payments.orders_by_status entry") })
        #expect(report.problems.contains { $0.contains("as FAILED, but it is PENDING") })
        #expect(report.problems.contains { $0.contains("says 6 FAILED, the orders hold 1") })
    }

    @Test func anIndexEntryForAMissingOrderIsNamed() async throws {
        let fixture = try await populated()
        defer { fixture.close() }
        try await fixture.store.write { transaction in
            try transaction.table(OrderStatusIndex.table).put(OrderStatusIndex.key(.pending, [UInt8](repeating: 0xAB, count: 16)), [])
        }
        let report = try PaymentIndexVerifier.verify(fixture.store)
        #expect(report.problems == ["payments.orders_by_status lists order \(String(repeating: "ab", count: 16)) as PENDING, but there is no such order"])
    }
}
