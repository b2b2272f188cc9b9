/// Who each producer id was issued to. The broker records the authenticated principal with
/// the id (in the transaction that allocates it), accepts batches carrying the id only from
/// that principal, and consumers read it back to know who produced a batch: the producer id
/// in every batch header is then a provenance mark no client can borrow.
public enum ProducerOwners {
    /// Read it with `owner(of:in:)`: `transaction.table(ProducerOwners.table)`.
    public static let table = "log.producer_owners"
    /// Principals are "Type:name" texts; longer ones are refused rather than stored.
    public static let maximumOwnerBytes = 1024

    static func key(_ producerId: Int64) -> [UInt8] {
        withUnsafeBytes(of: UInt64(bitPattern: producerId).bigEndian, Array.init)
    }

    /// Records `owner` for `producerId`; an id already owned keeps its first owner.
    public static func record(_ producerId: Int64, owner: String, in transaction: WriteTransaction) throws {
        guard !owner.isEmpty, owner.utf8.count <= maximumOwnerBytes else {
            throw LogStoreError(.invalidArgument, "a producer owner must be 1 to \(maximumOwnerBytes) bytes")
        }
        let table = try transaction.table(table)
        if try table.get(key(producerId)) == nil { try table.put(key(producerId), Array(owner.utf8)) }
    }

    /// The principal `producerId` was issued to, or nil when none is recorded (or the stored
    /// bytes are not text). `table` is the transaction's `table(ProducerOwners.table)`: nil in
    /// a read transaction of a store no owner was recorded in yet.
    public static func owner(of producerId: Int64, in table: (any TableReading)?) throws -> String? {
        guard producerId >= 0, let table, let bytes = try table.get(key(producerId)) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
