import CLMDB

/// Key/value access shared by both table kinds. Keys sort bytewise (memcmp), so encode
/// integers big-endian and ids in binary time-ordered form to keep hot keys together.
public protocol TableReading {
    var name: String { get }
    /// Calls `body` with the stored bytes, which are valid only during the call.
    func withValue<R>(forKey key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R?
    /// Visits entries with key >= `start` in key order until `body` returns false.
    func forEach(from start: [UInt8], _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws
    /// Visits entries with key < `end` (every entry if nil) in descending key order until `body`
    /// returns false: newest first for time-ordered keys.
    func forEachReverse(before end: [UInt8]?, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws
    /// The entry with the greatest key.
    func last() throws -> (key: [UInt8], value: [UInt8])?
    func count() throws -> Int
}

extension TableReading {
    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        try withValue(forKey: key) { Array($0) }
    }

    /// Entries with keys >= `start`, at most `limit`.
    public func scan(from start: [UInt8] = [], limit: Int = .max) throws -> [(key: [UInt8], value: [UInt8])] {
        var entries: [(key: [UInt8], value: [UInt8])] = []
        try forEach(from: start) { key, value in
            entries.append((Array(key), Array(value)))
            return entries.count < limit
        }
        return entries
    }
}

protocol LMDBTable: TableReading {
    var lmdb: LMDBTransaction { get }
    var dbi: MDB_dbi { get }
}

extension LMDBTable {
    public func withValue<R>(forKey key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        guard let bytes = try lmdb.get(dbi, key: key) else { return nil }
        return try body(bytes)
    }

    public func forEach(from start: [UInt8], _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        try lmdb.withCursor(dbi) { cursor in
            var entry = start.isEmpty ? try cursor.first() : try cursor.seek(atLeast: start)
            while let current = entry, try body(current.key, current.value) {
                entry = try cursor.next()
            }
        }
    }

    public func forEachReverse(before end: [UInt8]?, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        try lmdb.withCursor(dbi) { cursor in
            var entry: LMDBCursor.Entry?
            if let end, try cursor.seek(atLeast: end) != nil {
                entry = try cursor.previous()
            } else {
                entry = try cursor.last()
            }
            while let current = entry, try body(current.key, current.value) {
                entry = try cursor.previous()
            }
        }
    }

    public func last() throws -> (key: [UInt8], value: [UInt8])? {
        try lmdb.withCursor(dbi) { cursor in
            guard let entry = try cursor.last() else { return nil }
            return (Array(entry.key), Array(entry.value))
        }
    }

    public func count() throws -> Int { try lmdb.entryCount(dbi) }
}

public struct ReadOnlyTable: LMDBTable {
    public let name: String
    let lmdb: LMDBTransaction
    let dbi: MDB_dbi
}

/// An application table inside a write transaction: its writes commit or vanish together with
/// everything else in that transaction (appends, offset commits, other tables).
public struct WritableTable: LMDBTable {
    public let name: String
    let lmdb: LMDBTransaction
    let dbi: MDB_dbi
    let transaction: WriteTransaction

    public func put(_ key: [UInt8], _ value: [UInt8]) throws {
        try transaction.recordingWrite { try lmdb.put(dbi, key: key, value: value) }
    }

    /// Fast path for append-only tables (history, audit, outbox): `key` must be greater than
    /// every key in the table, which keeps pages full and writes sequential.
    public func append(_ key: [UInt8], _ value: [UInt8]) throws {
        try transaction.recordingWrite {
            do {
                try lmdb.put(dbi, key: key, value: value, flags: MDB_APPEND)
            } catch let error as LMDBError where error.code == MDB_KEYEXIST {
                throw LogStoreError(.invalidArgument, "append to table \(name): key is not greater than the table's last key")
            }
        }
    }

    @discardableResult
    public func delete(_ key: [UInt8]) throws -> Bool {
        try transaction.recordingWrite { try lmdb.delete(dbi, key: key) }
    }
}
