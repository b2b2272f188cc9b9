import LogStore
import Payments

/// How many orders are in each status, kept in the same transactions that create orders and
/// change their status, so the `paynode_payment_orders{status}` gauge is exact and costs one
/// read per scrape instead of a scan over millions of orders.
enum OrderStatusCounts {
    /// status raw value -> Int64 big-endian.
    static let table = "payments.order_status_counts"

    static func add(_ deltas: [PaymentStatus: Int64], in transaction: WriteTransaction) throws {
        let counts = try transaction.table(table)
        for (status, delta) in deltas where delta != 0 {
            let key = Array(status.rawValue.utf8)
            let current = try counts.get(key).flatMap(decode) ?? 0
            try counts.put(key, encode(current + delta))
        }
    }

    static func read(in transaction: ReadTransaction) throws -> [PaymentStatus: Int64]? {
        guard let counts = transaction.table(table) else { return nil }
        var result: [PaymentStatus: Int64] = [:]
        for status in PaymentStatus.allCases {
            result[status] = try counts.get(Array(status.rawValue.utf8)).flatMap(decode) ?? 0
        }
        return result
    }

    static func encode(_ value: Int64) -> [UInt8] { value.bigEndianBytes }

    static func decode(_ bytes: [UInt8]) -> Int64? { Int64(bigEndianBytes: bytes) }
}
