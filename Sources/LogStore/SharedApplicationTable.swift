import CLMDB

/// One application table of a data directory that a running node holds (its `paynode.lock`):
/// for small offline edits such as `paynode apikeys create` while the service runs. LMDB is
/// multi-process safe (its own lock file serialises writers and tracks readers), so a second
/// environment may commit a write the node then sees in its next snapshot. Only for tables the
/// node has already created (their database handle is then valid in the node), and without
/// the node's own machinery: no group commit, no map growth (the map is the node's current
/// size, adopted after opening), no recovery.
public enum SharedApplicationTable {
    /// Runs `body` in one write transaction on table `name`, committing if it returns.
    /// `put` writes into the same transaction. Throws if the table does not exist.
    public static func write<T>(directory: String, configuration: LogStoreConfiguration, table name: String,
                                _ body: (ReadOnlyTable, _ put: ([UInt8], [UInt8]) throws -> Void) throws -> T) throws -> T {
        let existingSize = DiskSpace.fileSize(directory + "/data.mdb") ?? 0
        guard existingSize > 0 else { throw LogStoreError(.invalidArgument, "\(directory) holds no store") }
        let environment: LMDBEnvironment
        do {
            environment = try LMDBEnvironment(path: directory, mapSize: existingSize, maxDatabases: configuration.maximumDatabases,
                                              maxReaders: configuration.maximumReaders, noSync: false)
            // Size zero adopts the map size the node last committed (mdb_env_set_mapsize), so this
            // process never records a smaller or larger map than the node's.
            try environment.setMapSize(0)
        } catch {
            throw LogStoreError(error, context: "opening \(directory) alongside its node")
        }
        defer { environment.close() }
        var pointer: OpaquePointer?
        try lmdbCheckStore(mdb_txn_begin(environment.pointer, nil, 0, &pointer), "txn_begin")
        guard let pointer else { throw LogStoreError(.storageFailure, "txn_begin returned no transaction") }
        var committed = false
        defer { if !committed { mdb_txn_abort(pointer) } }
        let lmdb = LMDBTransaction(pointer: pointer)
        let qualified = StoreKeys.applicationTableName(name)
        guard let dbi = try lmdb.openDatabase(qualified, create: false) else {
            throw LogStoreError(.invalidArgument, "table \(name) does not exist in \(directory); start the node once first")
        }
        let table = ReadOnlyTable(name: name, lmdb: lmdb, dbi: dbi)
        let result = try body(table) { key, value in try lmdb.put(dbi, key: key, value: value) }
        committed = true
        try lmdbCheckStore(mdb_txn_commit(pointer), "txn_commit")
        return result
    }

    private static func lmdbCheckStore(_ code: Int32, _ operation: String) throws(LogStoreError) {
        guard code == 0 else { throw LogStoreError(LMDBError(code: code, operation: operation), context: "a shared table write") }
    }
}
