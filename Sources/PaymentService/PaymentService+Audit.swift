import Foundation
import Payments

extension PaymentService {
    /// `GET /v1/payment-orders/{id}/audit`: `{"paymentOrderId":..., "entries":[...], "nextCursor":...}` with the
    /// order's audit entries in chain order (each with its hash), or not found for an unknown order.
    /// One page: from sequence `cursor` (0: the first), at most `limit`, with `"nextCursor"` when
    /// more follow, so no order's trail makes one answer unbounded.
    /// `merchant`: the only merchant whose orders the caller sees (nil: every merchant); another
    /// merchant's order reads as absent.
    public func audit(_ text: String, cursor: UInt64 = 0, limit: Int = PaymentService.defaultHistoryPageEntries,
                      merchant: String? = nil) throws -> OrderLookup {
        guard let id = PaymentOrderID(text) else { return .notFound }
        struct View: Encodable {
            var paymentOrderId: String
            var entries: [AuditLog.StoredEntry]
            var nextCursor: String?
        }
        return try store.read { transaction -> OrderLookup in
            guard try transaction.table(PaymentTables.orders)?.get(id.bytes) != nil else { return .notFound }
            if let merchant, try Self.merchant(of: id, in: transaction) != merchant { return .notFound }
            let page = try AuditLog.entries(of: id, in: transaction, from: cursor, limit: limit)
            let view = View(paymentOrderId: id.description, entries: page.entries, nextCursor: page.next.map(String.init))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return .found(String(decoding: try encoder.encode(view), as: UTF8.self))
        }
    }
}
