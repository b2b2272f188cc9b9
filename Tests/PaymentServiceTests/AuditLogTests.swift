import Foundation
import LogStore
import Payments
import Protocol
import Testing
@testable import PaymentService

/// The audit trail: one chained entry per result seen, an index per order, and a verifier that
/// names the first entry that was changed, deleted or reordered.
@Suite("Audit trail")
struct AuditLogTests {
    typealias Fixture = PaymentServiceTests.Fixture

    /// An order with an applied, a duplicate and a conflicting result, then two dead letters
    /// (garbage bytes, and a result for an unknown order): five entries.
    func fixtureWithFiveEntries() async throws -> (Fixture, String) {
        let fixture = try await Fixture()
        let (_, id) = try await fixture.create("audit-1")
        try await fixture.publish(id, .successful, reference: "pi_a")
        try await fixture.publish(id, .successful, reference: "pi_a")
        try await fixture.publish(id, .failed, reference: "pi_a", error: "card_declined")
        try await fixture.store.append(topic: PaymentTopics.pspResultUpdates, partition: 0,
                                       records: [Record(timestamp: -1, key: Array("junk".utf8), value: [0xFF, 0x00, 0x01])])
        try await fixture.publish("01a20a1d-1df5-7000-82b1-4b8a7559036f", .successful)
        let summary = try await fixture.service.processResults(partition: 0)
        #expect(summary.records == 5)
        return (fixture, id)
    }

    func stored(_ fixture: Fixture) throws -> [(key: [UInt8], value: [UInt8])] {
        try fixture.store.read { try #require($0.table(AuditLog.table)).scan() }
    }

    func verify(_ fixture: Fixture) throws -> AuditChainVerifier { try AuditLog.verify(fixture.store) }

    @Test func everyOutcomeIsChainedInOrder() async throws {
        let (fixture, id) = try await fixtureWithFiveEntries()
        defer { fixture.close() }
        let entries = try stored(fixture).map { try AuditLog.decode($0.value) }
        #expect(entries.map(\.entry.outcome) == ["applied", "duplicate", "conflict", "dead-lettered", "dead-lettered"])
        #expect(entries.map(\.entry.sequence) == [0, 1, 2, 3, 4])
        #expect(entries[0].entry.prevHash == String(repeating: "0", count: 64))
        for index in 1..<entries.count { #expect(entries[index].entry.prevHash == entries[index - 1].hash) }
        #expect(entries[0].entry.paymentOrderId == id && entries[0].entry.pspStatus == "SUCCESSFUL" && entries[0].entry.pspReference == "pi_a")
        #expect(entries[2].entry.pspStatus == "FAILED")
        #expect(entries[3].entry.paymentOrderId == "junk" && entries[3].entry.pspStatus == nil)
        #expect(entries.map(\.entry.sourceOffset) == [0, 1, 2, 3, 4])
        #expect(entries.allSatisfy { $0.entry.sourceTopic == PaymentTopics.pspResultUpdates && $0.entry.recordSha256.count == 64 })
        #expect(entries[0].entry.recordSha256 == entries[1].entry.recordSha256)  // the same record bytes twice
        let result = try verify(fixture)
        #expect(result.problem == nil && result.count == 5 && result.headHash == entries[4].hash)

        // More batches extend the same chain.
        try await fixture.publish(id, .successful, reference: "pi_a")
        _ = try await fixture.service.processResults(partition: 0)
        #expect(try verify(fixture).count == 6)
        #expect(try AuditLog.decode(try stored(fixture)[5].value).entry.prevHash == entries[4].hash)
    }

    @Test func theOrderIndexAndTheAPIViewListOneOrdersEntries() async throws {
        let (fixture, id) = try await fixtureWithFiveEntries()
        defer { fixture.close() }
        let (_, other) = try await fixture.create("audit-2")
        let json = try #require(try fixture.service.audit(id).json)
        let view = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(view["paymentOrderId"] as? String == id)
        let entries = try #require(view["entries"] as? [[String: Any]])
        #expect(entries.map { $0["outcome"] as? String } == ["applied", "duplicate", "conflict"])
        #expect(entries.map { $0["sequence"] as? Int } == [0, 1, 2])
        #expect(entries.allSatisfy { ($0["hash"] as? String)?.count == 64 })
        #expect(try fixture.service.audit(other).json?.contains(#""entries":[]"#) == true)
        #expect(try fixture.service.audit("01a20a1d-1df5-7000-82b1-4b8a7559036f") == .notFound)  // dead-lettered, no such order
        #expect(try fixture.service.audit("not-an-id") == .notFound)
    }

    /// An order's trail is served in pages, so thousands of duplicate results cannot make one
    /// answer unbounded; following nextCursor yields every entry once, in order.
    @Test func theAPIViewIsPaged() async throws {
        let (fixture, id) = try await fixtureWithFiveEntries()
        defer { fixture.close() }
        func page(_ cursor: UInt64) throws -> (outcomes: [String], next: UInt64?) {
            let json = try #require(try fixture.service.audit(id, cursor: cursor, limit: 2).json)
            let view = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let entries = try #require(view["entries"] as? [[String: Any]])
            return (entries.compactMap { $0["outcome"] as? String }, (view["nextCursor"] as? String).flatMap { UInt64($0) })
        }
        let first = try page(0)
        #expect(first.outcomes == ["applied", "duplicate"])
        let second = try page(try #require(first.next))
        #expect(second.outcomes == ["conflict"])
        #expect(second.next == nil)
        #expect(try page(.max).outcomes.isEmpty)
    }

    @Test func verifyNamesAModifiedEntry() async throws {
        let (fixture, _) = try await fixtureWithFiveEntries()
        defer { fixture.close() }
        let (key, original) = try stored(fixture)[2]
        var value = original
        let at = try #require(value.indices.dropFirst(AuditLog.hashSize).first { value[$0] == UInt8(ascii: "F") })  // FAILED -> GAILED
        value[at] = UInt8(ascii: "G")
        let tampered = value
        try await fixture.store.write { try $0.table(AuditLog.table).put(key, tampered) }
        let problem = try #require(try verify(fixture).problem)
        #expect(problem.sequence == 2 && problem.what.contains("hash mismatch"))
    }

    @Test func verifyNamesAnEntryWhoseHashWasRecomputed() async throws {
        let (fixture, _) = try await fixtureWithFiveEntries()
        defer { fixture.close() }
        let entries = try stored(fixture)
        // Rewrite entry 1's body and its own hash consistently: entry 2's link still breaks.
        var body = Array(entries[1].value[AuditLog.hashSize...])
        body[body.firstIndex(of: UInt8(ascii: "d"))!] = UInt8(ascii: "x")
        let previous = Array(entries[0].value.prefix(AuditLog.hashSize))
        let rewritten = AuditLog.chainHash(previous: previous, body: body) + body
        try await fixture.store.write { try $0.table(AuditLog.table).put(entries[1].key, rewritten) }
        let problem = try #require(try verify(fixture).problem)
        #expect(problem.sequence == 2 && problem.what.contains("prevHash"))
    }

    @Test func verifyNamesADeletedEntry() async throws {
        let (fixture, _) = try await fixtureWithFiveEntries()
        defer { fixture.close() }
        let key = try stored(fixture)[1].key
        try await fixture.store.write { _ = try $0.table(AuditLog.table).delete(key) }
        let problem = try #require(try verify(fixture).problem)
        #expect(problem.sequence == 1 && problem.what.contains("deleted"))
        #expect(try verify(fixture).count == 1)
    }

    @Test func verifyNamesReorderedEntries() async throws {
        let (fixture, _) = try await fixtureWithFiveEntries()
        defer { fixture.close() }
        let entries = try stored(fixture)
        try await fixture.store.write { transaction in
            let table = try transaction.table(AuditLog.table)
            try table.put(entries[1].key, entries[3].value)
            try table.put(entries[3].key, entries[1].value)
        }
        let problem = try #require(try verify(fixture).problem)
        #expect(problem.sequence == 1 && problem.what.contains("reordered"))
    }

    @Test func theVerifierAcceptsAnEmptyLogAndRejectsGarbage() {
        var empty = AuditChainVerifier()
        #expect(empty.problem == nil && empty.count == 0)
        let accepted = empty.check(key: [0, 0, 0, 0, 0, 0, 0, 0], value: [1, 2, 3])
        #expect(!accepted && empty.problem?.sequence == 0)
        var shortKey = AuditChainVerifier()
        let shortAccepted = shortKey.check(key: [0], value: [UInt8](repeating: 0, count: 40))
        #expect(!shortAccepted)
        var badBody = AuditChainVerifier()
        let badAccepted = badBody.check(key: AuditLog.key(0), value: [UInt8](repeating: 0, count: 32) + Array("{not json".utf8))
        #expect(!badAccepted && badBody.problem?.what.contains("decode") == true)
    }
}
