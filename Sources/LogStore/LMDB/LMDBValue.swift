import CLMDB

extension MDB_val {
    /// A view of `bytes` for the duration of an LMDB call. LMDB never writes through
    /// input values, so dropping const here is safe.
    @inline(__always)
    init(_ bytes: UnsafeRawBufferPointer) {
        self.init(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
    }

    /// The bytes LMDB points at: valid only until the transaction ends or the next write.
    @inline(__always)
    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mv_data, count: mv_size)
    }
}

/// Runs `body` with an MDB_val over the bytes of `array`.
@inline(__always)
func withMDBVal<R>(_ array: [UInt8], _ body: (inout MDB_val) throws -> R) rethrows -> R {
    try array.withUnsafeBytes { raw in
        var value = MDB_val(raw)
        return try body(&value)
    }
}
