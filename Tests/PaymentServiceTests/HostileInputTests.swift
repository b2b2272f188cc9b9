import Foundation
import LogStore
import Payments
import Testing
@testable import PaymentService

/// What a hostile API client can send: keys measured in bytes, card numbers, and the
/// status index and history pages that keep listing cheap and answers bounded.
@Suite("Hostile API input")
struct HostileInputTests {
    typealias Fixture = PaymentServiceTests.Fixture

    static let body = #"{"merchantId":"m_1","amount":5000,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#

    // MARK: Idempotency-Key

    @Test(arguments: [
        (String(repeating: "k", count: 255), 201),
        (String(repeating: "k", count: 256), 400),
        (String(repeating: "€", count: 85), 201),  // 3 bytes each: 255 bytes
        (String(repeating: "€", count: 85) + "k", 400),  // 256 bytes in 86 characters
        (String(repeating: "é", count: 128), 400),  // 128 characters, 256 bytes
        (String(repeating: "é", count: 127) + "k", 201),  // 255 bytes
        (String(repeating: "🇪🇺", count: 32), 400),  // 32 characters, 256 bytes
        ("", 400),
    ])
    func idempotencyKeysAreBoundedInUTF8Bytes(key: String, status: Int) async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let response = try await fixture.service.createOrder(body: Array(Self.body.utf8), idempotencyKey: key, traceparent: nil)
        #expect(response.isCreated == (status == 201), "\(key.utf8.count) bytes")
        if status == 400 {
            #expect(response.refusal?.code == (key.isEmpty ? "idempotency_key_missing" : "idempotency_key_too_long"))
            #expect(try fixture.records(PaymentTopics.paymentOrders).isEmpty)
        }
    }

    // MARK: Card numbers

    @Test(arguments: [
        "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444",
        "378282246310005", "3782 822463 10005", " 4111111111111111 ", "6011111111111117",
        "4222222222222",  // 13 digits
        "6304000000000000000",  // 19 digits (Maestro)
    ])
    func cardNumbersAreRecognised(_ value: String) {
        #expect(CreateOrderRequest.looksLikeCardNumber(value))
    }

    @Test(arguments: [
        "tok_visa", "4111111111111112",  // fails Luhn
        "411111111111",  // 12 digits
        "41111111111111111113",  // 20 digits
        "4111  1111 1111 1111", "4111--1111-1111-1111", "-4111111111111111", "4111111111111111-",
        "4111_1111_1111_1111", "tok_4111111111111111", "", " ", "0000000000000000a",
    ])
    func otherValuesAreNotCardNumbers(_ value: String) {
        #expect(!CreateOrderRequest.looksLikeCardNumber(value))
    }

    @Test func luhnAgreesWithKnownNumbers() {
        #expect(CreateOrderRequest.luhnValid([7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]))
        #expect(!CreateOrderRequest.luhnValid([7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]))
        #expect(CreateOrderRequest.luhnValid([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
    }

    @Test func aCardNumberIsRefusedWithoutEchoAndNothingIsStored() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let card = "4111 1111 1111 1111"
        let body = #"{"merchantId":"m_1","amount":5000,"currency":"EUR","paymentMethod":"\#(card)","psp":"stripe"}"#
        let response = try await fixture.service.createOrder(body: Array(body.utf8), idempotencyKey: "card", traceparent: nil)
        #expect(response.refusal?.code == "card_number_not_accepted")
        #expect(response.refusal?.message.contains("4111") == false)
        #expect(try fixture.records(PaymentTopics.paymentOrders).isEmpty)
        #expect((try fixture.service.ordersByStatus()[.pending] ?? 0) == 0)
        // The key was not used up: the client may retry with a token under the same key.
        let retry = try await fixture.service.createOrder(body: Array(Self.body.utf8), idempotencyKey: "card", traceparent: nil)
        #expect(retry.isCreated)
    }

    // MARK: Orders by status

    /// The index lists exactly the orders of each status, read from the orders table.
    func expectIndexMatchesOrders(_ fixture: Fixture) throws {
        try fixture.store.read { transaction in
            var expected: Set<[UInt8]> = []
            try transaction.table(PaymentTables.orders)?.forEach(from: []) { key, value in
                if let state = PaymentOrderState(decoding: value) { expected.insert(OrderStatusIndex.key(state.status, Array(key))) }
                return true
            }
            var indexed: Set<[UInt8]> = []
            try transaction.table(OrderStatusIndex.table)?.forEach(from: []) { key, _ in
                indexed.insert(Array(key))
                return true
            }
            #expect(indexed == expected)
        }
    }

    func listed(_ fixture: Fixture, _ status: PaymentStatus?, limit: Int = 50) throws -> [String] {
        var ids: [String] = []
        var cursor: String?
        repeat {
            let page = try fixture.service.listOrders(OrderListQuery(status: status, limit: limit, cursor: cursor.flatMap(PaymentOrderID.init)))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(page.utf8)) as? [String: Any])
            let orders = try #require(object["orders"] as? [[String: Any]])
            if let status { #expect(orders.allSatisfy { $0["status"] as? String == status.rawValue }) }
            ids += orders.compactMap { $0["paymentOrderId"] as? String }
            cursor = object["nextCursor"] as? String
        } while cursor != nil
        return ids
    }

    @Test func theStatusFilterFollowsEveryTransitionAndPagesNewestFirst() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        var ids: [String] = []
        for index in 0..<7 { ids.append(try await fixture.create("k-\(index)").1) }
        try expectIndexMatchesOrders(fixture)
        #expect(try listed(fixture, .pending, limit: 2) == ids.reversed())
        #expect(try listed(fixture, .successful).isEmpty)

        try await fixture.publish(ids[1], .successful)
        try await fixture.publish(ids[1], .successful)  // duplicate
        try await fixture.publish(ids[4], .failed, reference: nil, error: "card_declined")
        try await fixture.publish(ids[4], .successful)  // conflict: stays FAILED
        try await fixture.publish(ids[5], .pending)  // recorded: stays PENDING
        try await fixture.publish(ids[6], .successful)
        _ = try await fixture.service.processResults(partition: 0)
        try expectIndexMatchesOrders(fixture)
        #expect(try listed(fixture, .successful, limit: 1) == [ids[6], ids[1]])
        #expect(try listed(fixture, .failed) == [ids[4]])
        #expect(try listed(fixture, .pending, limit: 3) == [ids[5], ids[3], ids[2], ids[0]])
        #expect(try listed(fixture, nil, limit: 4) == ids.reversed())
    }

    @Test func listingByStatusReadsTheIndexNotTheWholeTable() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let first = try await fixture.create("k-1").1
        let second = try await fixture.create("k-2").1
        // An index entry gone: the order is no longer listed under its status (so the listing
        // comes from the index); one under the wrong status is checked against the order.
        try await fixture.store.write { transaction in
            let index = try transaction.table(OrderStatusIndex.table)
            let id = try #require(PaymentOrderID(first)).bytes
            _ = try index.delete(OrderStatusIndex.key(.pending, id))
            try index.put(OrderStatusIndex.key(.failed, id), [])
        }
        #expect(try listed(fixture, .pending) == [second])
        #expect(try listed(fixture, .failed).isEmpty)
        #expect(try listed(fixture, nil) == [second, first])
    }

    /// A table first created by the consumer would be unusable in reads that began before
    /// that commit (LMDB: EINVAL, answered 500): the API's tables exist from the start.
    @Test func everyTableTheAPIReadsExistsBeforeTheFirstResult() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        try await fixture.service.ensureTables()
        try fixture.store.read { transaction in
            for table in [AuditLog.table, AuditLog.byOrder, PaymentTables.orders, PaymentTables.details, OrderStatusIndex.table] {
                #expect(transaction.table(table) != nil, "\(table)")
            }
        }
    }

    // MARK: History pages

    @Test func anOrdersHistoryIsServedInPagesWithTheTerminalFieldsFromAnyPage() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let declined = try await fixture.create("k").1
        try await fixture.publish(declined, .pending, reference: "pi_p")
        try await fixture.publish(declined, .failed, reference: "pi_p", error: "card_declined")
        for _ in 0..<5 { try await fixture.publish(declined, .failed, reference: "pi_p", error: "card_declined") }
        _ = try await fixture.service.processResults(partition: 0)

        func page(_ cursor: Int) throws -> [String: Any] {
            let json = try #require(try fixture.service.order(declined, historyCursor: cursor, historyLimit: 3).json)
            return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        }
        let whole = try #require(try fixture.order(declined)["history"] as? [[String: Any]])
        #expect(whole.count == 7)
        var collected: [[String: Any]] = []
        var cursor: Int? = 0
        var pages = 0
        while let next = cursor {
            let order = try page(next)
            let history = try #require(order["history"] as? [[String: Any]])
            #expect(history.count <= 3)
            collected += history
            // Terminal fields come from the applied entry even on pages without it.
            #expect(order["status"] as? String == "FAILED")
            #expect(order["errorCode"] as? String == "card_declined")
            cursor = order["historyNextCursor"] as? Int
            #expect((order["historyTruncated"] as? Bool == true) == (cursor != nil))
            pages += 1
        }
        #expect(pages == 3)
        #expect(collected.compactMap { $0["offset"] as? Int } == whole.compactMap { $0["offset"] as? Int })
        // Past the end: an empty page, not an error.
        #expect(try #require(try page(50)["history"] as? [[String: Any]]).isEmpty)
        // Within one page: the order reads as it always did.
        #expect(try fixture.order(declined)["historyTruncated"] == nil)
    }
}
