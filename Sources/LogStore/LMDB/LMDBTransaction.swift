import CLMDB

/// A borrowed `MDB_txn`: valid only inside the closure that handed it out.
struct LMDBTransaction {
    let pointer: OpaquePointer

    func get(_ dbi: MDB_dbi, key: UnsafeRawBufferPointer) throws(LMDBError) -> UnsafeRawBufferPointer? {
        var keyVal = MDB_val(key)
        var data = MDB_val()
        let rc = mdb_get(pointer, dbi, &keyVal, &data)
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc, "get")
        return data.bytes
    }

    func get(_ dbi: MDB_dbi, key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        try key.withUnsafeBytes { raw in try get(dbi, key: raw) }
    }

    func put(_ dbi: MDB_dbi, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: Int32 = 0) throws(LMDBError) {
        var keyVal = MDB_val(key)
        var dataVal = MDB_val(value)
        try lmdbCheck(mdb_put(pointer, dbi, &keyVal, &dataVal, UInt32(flags)), "put")
    }

    func put(_ dbi: MDB_dbi, key: [UInt8], value: [UInt8], flags: Int32 = 0) throws {
        try key.withUnsafeBytes { k in
            try value.withUnsafeBytes { v in try put(dbi, key: k, value: v, flags: flags) }
        }
    }

    /// Reserves `size` bytes for the value and lets `fill` write them in place (MDB_RESERVE),
    /// which saves copying large batches twice.
    func putReserved(_ dbi: MDB_dbi, key: UnsafeRawBufferPointer, size: Int, flags: Int32 = 0,
                     fill: (UnsafeMutableRawBufferPointer) -> Void) throws(LMDBError) {
        var keyVal = MDB_val(key)
        var dataVal = MDB_val(mv_size: size, mv_data: nil)
        try lmdbCheck(mdb_put(pointer, dbi, &keyVal, &dataVal, UInt32(flags | MDB_RESERVE)), "put")
        fill(UnsafeMutableRawBufferPointer(start: dataVal.mv_data, count: size))
    }

    @discardableResult
    func delete(_ dbi: MDB_dbi, key: UnsafeRawBufferPointer) throws(LMDBError) -> Bool {
        var keyVal = MDB_val(key)
        let rc = mdb_del(pointer, dbi, &keyVal, nil)
        if rc == MDB_NOTFOUND { return false }
        try lmdbCheck(rc, "del")
        return true
    }

    @discardableResult
    func delete(_ dbi: MDB_dbi, key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { raw in try delete(dbi, key: raw) }
    }

    func openCursor(_ dbi: MDB_dbi) throws(LMDBError) -> LMDBCursor {
        var cursor: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(pointer, dbi, &cursor), "cursor_open")
        return LMDBCursor(pointer: cursor!)
    }

    func withCursor<R>(_ dbi: MDB_dbi, _ body: (LMDBCursor) throws -> R) throws -> R {
        let cursor = try openCursor(dbi)
        defer { mdb_cursor_close(cursor.pointer) }
        return try body(cursor)
    }

    /// Opens (or, in a write transaction with `create`, creates) a named database.
    func openDatabase(_ name: String, create: Bool) throws(LMDBError) -> MDB_dbi? {
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(pointer, name, create ? UInt32(MDB_CREATE) : 0, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc, "dbi_open(\(name))")
        return dbi
    }

    /// Deletes a named database and its handle.
    func dropDatabase(_ dbi: MDB_dbi) throws(LMDBError) {
        try lmdbCheck(mdb_drop(pointer, dbi, 1), "drop")
    }

    func entryCount(_ dbi: MDB_dbi) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try lmdbCheck(mdb_stat(pointer, dbi, &stat), "stat")
        return Int(stat.ms_entries)
    }
}

/// A cursor over one database; closed by `LMDBTransaction.withCursor`.
struct LMDBCursor {
    let pointer: OpaquePointer

    typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    func get(_ op: MDB_cursor_op) throws(LMDBError) -> Entry? {
        var key = MDB_val()
        var data = MDB_val()
        let rc = mdb_cursor_get(pointer, &key, &data, op)
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc, "cursor_get")
        return (key.bytes, data.bytes)
    }

    /// Positions at the first key >= `key`.
    func seek(atLeast key: UnsafeRawBufferPointer) throws(LMDBError) -> Entry? {
        var keyVal = MDB_val(key)
        var data = MDB_val()
        let rc = mdb_cursor_get(pointer, &keyVal, &data, MDB_SET_RANGE)
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc, "cursor_get(SET_RANGE)")
        return (keyVal.bytes, data.bytes)
    }

    func seek(atLeast key: [UInt8]) throws -> Entry? {
        try key.withUnsafeBytes { raw in try seek(atLeast: raw) }
    }

    func first() throws(LMDBError) -> Entry? { try get(MDB_FIRST) }
    func last() throws(LMDBError) -> Entry? { try get(MDB_LAST) }
    func next() throws(LMDBError) -> Entry? { try get(MDB_NEXT) }
    func previous() throws(LMDBError) -> Entry? { try get(MDB_PREV) }

    /// Deletes the entry under the cursor; the cursor then points at the following one.
    func deleteCurrent() throws(LMDBError) {
        try lmdbCheck(mdb_cursor_del(pointer, 0), "cursor_del")
    }
}
