import Foundation
import Payments
import Testing
@testable import PaymentService

/// The hand-written records must be byte for byte what JSONEncoder wrote before them (stored
/// idempotency hashes compare as strings) and read back by JSONDecoder unchanged.
@Suite("Hand-written JSON records")
struct JSONObjectWriterTests {
    static let awkward = String(decoding: (0..<0x20).map { UInt8($0) } + Array(#"/"\é€😀 </script> \u{7f}"#.utf8), as: UTF8.self)

    static func encoder(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value))
    }

    @Test(arguments: ["plain", "", awkward])
    func historyEntryMatchesJSONEncoder(text: String) throws {
        for optional in [nil, text] {
            let entry = HistoryEntry(pspStatus: "SUCCESSFUL", outcome: .conflict, reason: text, pspReference: optional,
                                     errorCode: optional, errorMessage: optional, eventTime: -17, processedAt: 1_795_000_000_000,
                                     topic: "psp-result-updates", partition: 2, offset: Int64.max, traceId: optional)
            #expect(entry.encodedJSON() == (try Self.encoder(entry)))
            #expect(try JSONDecoder().decode(HistoryEntry.self, from: Data(entry.encodedJSON())) == entry)
        }
    }

    @Test(arguments: ["m_1", awkward])
    func detailsResponsesAndCanonicalRequestsMatchJSONEncoder(text: String) throws {
        let details = OrderDetails(paymentOrderId: "01a20a5d-4cc7-7000-9aa9-8e630a69492b", merchantId: text, amount: 5000, currency: "EUR",
                                   paymentMethod: text, psp: "stripe", idempotencyKey: text, traceId: text, createdAt: 1)
        #expect(details.encodedJSON() == (try Self.encoder(details)))
        let request = CreateOrderRequest(merchantId: text, amount: 1, currency: "EUR", paymentMethod: text, psp: "adyen")
        #expect(Array(request.canonical().utf8) == (try Self.encoder(request)))
    }

    @Test(arguments: ["applied", awkward])
    func auditBodiesAreSortedJSONThatDecodesToTheSameEntry(text: String) throws {
        for optional in [nil, text] {
            let entry = AuditLog.Entry(sequence: UInt64.max >> 1, time: 1_795_000_000_000, outcome: text, paymentOrderId: optional,
                                       pspStatus: optional, pspReference: optional, reason: text, sourceTopic: "psp-result-updates",
                                       sourcePartition: 2, sourceOffset: 41, traceId: optional, recordSha256: "ab", prevHash: "cd")
            let body = AuditLog.canonical(entry)
            #expect(try JSONDecoder().decode(AuditLog.Entry.self, from: Data(body)) == entry)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            #expect(body == Array(try encoder.encode(entry)))
            // The consumer writes bodies as drafts, completed with sequence and hash in the
            // transaction: byte for byte the same body.
            let hash = (0..<32).map { UInt8($0 * 7 % 256) }
            var chained = entry
            chained.prevHash = AuditLog.hex(hash)
            #expect(AuditLog.Draft(entry, orderId: nil).body(sequence: entry.sequence, prevHash: hash) == AuditLog.canonical(chained))
        }
    }
}
