import LogStore
import Payments

/// PENDING orders reconciliation gave up on (their executor's last result is PENDING with
/// `needs_attention`): `GET /v1/payment-orders?needsAttention=true` reads them here.
///
/// Key: the 16-byte time-ordered order id; value empty. Written by the consumer in the same
/// transaction as the result that flags the order. An order that later settles (a webhook,
/// a person) keeps its key: the listing checks each order's status and shows PENDING ones only,
/// so the hot path (every applied result) never pays a delete for a rare flag.
enum AttentionIndex {
    static let table = "payments.orders_needing_attention"
    static let code = "needs_attention"

    /// Visits the flagged ids, newest first, before `cursor` (nil: from the newest), until
    /// `body` returns false.
    static func forEachReverse(before cursor: [UInt8]?, in transaction: ReadTransaction, _ body: ([UInt8]) throws -> Bool) throws {
        guard let index = transaction.table(table) else { return }
        try index.forEachReverse(before: cursor) { key, _ in
            guard key.count == 16 else { return true }
            return try body(Array(key))
        }
    }
}
