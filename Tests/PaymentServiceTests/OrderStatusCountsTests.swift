import LogStore
import Payments
import Testing
@testable import PaymentService

@Suite("Orders by status")
struct OrderStatusCountsTests {
    typealias Fixture = PaymentServiceTests.Fixture

    @Test func countsFollowCreationTransitionsAndIgnoreReplaysDuplicatesAndConflicts() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let (_, paid) = try await fixture.create("k-paid")
        let (_, declined) = try await fixture.create("k-declined", token: "tok_chargeDeclined")
        let (_, waiting) = try await fixture.create("k-waiting", token: "tok_pending")
        _ = try await fixture.create("k-paid")  // an Idempotency-Key replay creates nothing
        #expect(try fixture.service.ordersByStatus() == [.pending: 3, .successful: 0, .failed: 0])

        try await fixture.publish(paid, .successful)
        try await fixture.publish(paid, .successful)  // duplicate
        try await fixture.publish(declined, .failed, reference: nil, error: "card_declined")
        try await fixture.publish(declined, .successful)  // conflict: terminal states are sticky
        try await fixture.publish(waiting, .pending)
        _ = try await fixture.service.processResults(partition: 0)
        #expect(try fixture.service.ordersByStatus() == [.pending: 1, .successful: 1, .failed: 1])
    }

    @Test func countEncodingRoundTrips() {
        for value: Int64 in [0, 1, -1, Int64.max, Int64.min] {
            #expect(OrderStatusCounts.decode(OrderStatusCounts.encode(value)) == value)
        }
        #expect(OrderStatusCounts.decode([1, 2, 3]) == nil)
    }
}
