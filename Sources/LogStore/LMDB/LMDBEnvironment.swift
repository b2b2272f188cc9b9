import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns one `MDB_env`. The pointer is shared by the writer thread and any number of readers;
/// LMDB itself makes that safe given MDB_NOTLS, and `LogStore` adds the one rule LMDB leaves
/// to us: the map is only resized while no transaction is open (see `MapGuard`).
final class LMDBEnvironment: @unchecked Sendable {
    let pointer: OpaquePointer
    let path: String
    /// Set by `close()`, which the store calls only with the map guard held exclusively.
    private var isClosed = false

    init(path: String, mapSize: Int, maxDatabases: Int, maxReaders: Int, noSync: Bool) throws(LMDBError) {
        var env: OpaquePointer?
        try lmdbCheck(mdb_env_create(&env), "env_create")
        guard let env else { throw LMDBError(code: ENOMEM, operation: "env_create") }
        do {
            try lmdbCheck(mdb_env_set_maxdbs(env, MDB_dbi(maxDatabases)), "env_set_maxdbs")
            try lmdbCheck(mdb_env_set_maxreaders(env, UInt32(maxReaders)), "env_set_maxreaders")
            try lmdbCheck(mdb_env_set_mapsize(env, mapSize), "env_set_mapsize")
            // MDB_NOTLS: read transactions are not tied to threads (Swift tasks hop threads).
            // No MDB_WRITEMAP: a full disk must be an ENOSPC error at commit, not a SIGBUS.
            var flags = UInt32(MDB_NOTLS)
            if noSync { flags |= UInt32(MDB_NOSYNC) }
            try lmdbCheck(mdb_env_open(env, path, flags, 0o644), "env_open(\(path))")
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.pointer = env
        self.path = path
    }

    deinit {
        close()
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        mdb_env_close(pointer)
    }

    /// Clears reader slots left behind by processes that died; returns how many.
    func clearStaleReaders() throws(LMDBError) -> Int {
        var dead: Int32 = 0
        try lmdbCheck(mdb_reader_check(pointer, &dead), "reader_check")
        return Int(dead)
    }

    var info: MDB_envinfo {
        var info = MDB_envinfo()
        mdb_env_info(pointer, &info)
        return info
    }

    var pageSize: Int {
        var stat = MDB_stat()
        mdb_env_stat(pointer, &stat)
        return Int(stat.ms_psize)
    }

    /// Only while no transaction of this process is open.
    func setMapSize(_ size: Int) throws(LMDBError) {
        try lmdbCheck(mdb_env_set_mapsize(pointer, size), "env_set_mapsize(\(size))")
    }

    func sync(force: Bool) throws(LMDBError) {
        try lmdbCheck(mdb_env_sync(pointer, force ? 1 : 0), "env_sync")
    }

    /// A consistent copy of the environment (hot backup), compacted when asked.
    func copy(to directory: String, compact: Bool) throws(LMDBError) {
        try lmdbCheck(mdb_env_copy2(pointer, directory, compact ? UInt32(MDB_CP_COMPACT) : 0), "env_copy(\(directory))")
    }
}
