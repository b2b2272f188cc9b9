import LogStore
import Payments

/// Orders by status, so `GET /v1/payment-orders?status=S` reads only orders in S instead of
/// scanning every order (a status with few orders, such as FAILED among millions of
/// SUCCESSFUL ones, took a scan of the whole table per page).
///
/// Key: one status byte followed by the 16-byte time-ordered order id; value empty. Within a
/// status the ids sort by creation time, so newest-first paging is a reverse cursor walk from
/// `status + cursor`. Written in the same transaction as every change of an order's status
/// (creation, and the consumer's state writes), so it never disagrees with `orders`.
enum OrderStatusIndex {
    static let table = "payments.orders_by_status"
    static let keySize = 1 + 16

    static func statusByte(_ status: PaymentStatus) -> UInt8 {
        switch status {
        case .pending: 1
        case .successful: 2
        case .failed: 3
        }
    }

    /// The status an index key's first byte stands for (nil: not one `statusByte` writes).
    static func status(ofByte byte: UInt8) -> PaymentStatus? {
        PaymentStatus.allCases.first { statusByte($0) == byte }
    }

    static func key(_ status: PaymentStatus, _ id: [UInt8]) -> [UInt8] {
        [statusByte(status)] + id
    }

    /// Records that the order keyed `id` moved from `old` (nil: new order) to `new`.
    static func move(_ id: [UInt8], from old: PaymentStatus?, to new: PaymentStatus, in transaction: WriteTransaction) throws {
        try move(id, from: old, to: new, index: transaction.table(table))
    }

    /// The same with the index table already open: the consumer's plan opens it once per batch,
    /// not once per result (a lookup by name costs a string and two dictionary probes).
    static func move(_ id: [UInt8], from old: PaymentStatus?, to new: PaymentStatus, index: WritableTable) throws {
        guard old != new else { return }
        if let old { _ = try index.delete(key(old, id)) }
        try index.put(key(new, id), [])
    }

    /// Visits the ids of orders in `status`, newest first, starting before `cursor` (an order
    /// id's 16 bytes; nil: from the newest), until `body` returns false.
    static func forEachReverse(_ status: PaymentStatus, before cursor: [UInt8]?, in transaction: ReadTransaction,
                               _ body: ([UInt8]) throws -> Bool) throws {
        guard let index = transaction.table(table) else { return }
        let prefix = statusByte(status)
        // Keys of this status are below [prefix + 1]; with a cursor, below [prefix] + cursor.
        let end = cursor.map { [prefix] + $0 } ?? [prefix + 1]
        try index.forEachReverse(before: end) { key, _ in
            guard key.count == keySize, key[0] == prefix else { return false }
            return try body(Array(key[1...]))
        }
    }
}
