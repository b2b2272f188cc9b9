import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed LMDB call: the return code and LMDB's own text for it, plus what we were doing.
struct LMDBError: Error, CustomStringConvertible {
    let code: Int32
    let operation: String

    var description: String {
        let text = String(cString: mdb_strerror(code))
        return "LMDB \(operation) failed: \(text) (\(code))"
    }

    var isMapFull: Bool { code == MDB_MAP_FULL }
    var isNotFound: Bool { code == MDB_NOTFOUND }
    var isTransactionFull: Bool { code == MDB_TXN_FULL }
    /// The disk or the map has no room: retriable once space is freed.
    var isOutOfSpace: Bool { code == MDB_MAP_FULL || code == ENOSPC || code == EDQUOT }
}

@inline(__always)
func lmdbCheck(_ code: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if code != 0 { throw LMDBError(code: code, operation: operation()) }
}
