/// Fixed-layout, big-endian encoding of the small records the store keeps beside the log
/// (topic descriptions, partition state, offsets, producer state). Big-endian so that keys
/// sort by memcmp in numeric order, which LMDB relies on.
struct StoredRecordWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 32) { bytes.reserveCapacity(capacity) }

    mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func write(bytes other: some Collection<UInt8>) { bytes.append(contentsOf: other) }

    /// u16 length prefix, then UTF-8 (names: at most 65,535 bytes, enforced by callers).
    mutating func writeShortString(_ string: String) {
        let utf8 = Array(string.utf8)
        write(UInt16(truncatingIfNeeded: utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// i32 length prefix (-1 for nil), then UTF-8.
    mutating func writeOptionalString(_ string: String?) {
        guard let string else { write(Int32(-1)); return }
        let utf8 = Array(string.utf8)
        write(Int32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

/// Reads what `StoredRecordWriter` wrote; a short or malformed record is a `StoredRecordCorrupt`
/// error rather than a trap, since it came from disk.
struct StoredRecordReader {
    private let bytes: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }

    mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(StoredRecordCorrupt) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw StoredRecordCorrupt() }
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { target in
            target.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[position..<position + size]))
        }
        position += size
        return T(bigEndian: value)
    }

    mutating func readBytes(_ count: Int) throws(StoredRecordCorrupt) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw StoredRecordCorrupt() }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    mutating func readShortString() throws(StoredRecordCorrupt) -> String {
        let length = Int(try read(UInt16.self))
        return String(decoding: try readBytes(length), as: UTF8.self)
    }

    mutating func readOptionalString() throws(StoredRecordCorrupt) -> String? {
        let length = Int(try read(Int32.self))
        if length < 0 { return nil }
        return String(decoding: try readBytes(length), as: UTF8.self)
    }
}

struct StoredRecordCorrupt: Error {}

/// Big-endian integers are how keys sort numerically under LMDB's memcmp order: the store's own
/// keys and the application tables' (sequences, partitions, counters) use these two helpers.
extension FixedWidthInteger {
    /// The big-endian bytes of this integer, as used in keys.
    public var bigEndianBytes: [UInt8] {
        withUnsafeBytes(of: self.bigEndian) { Array($0) }
    }

    /// The integer stored in exactly `MemoryLayout<Self>.size` big-endian bytes; nil otherwise.
    /// Inlinable so that callers in other modules get it specialized: the generic version,
    /// a witness call per byte, showed in profiles of every key and counter decoded.
    @inlinable
    public init?(bigEndianBytes bytes: some Collection<UInt8>) {
        guard bytes.count == MemoryLayout<Self>.size else { return nil }
        if let loaded = bytes.withContiguousStorageIfAvailable({ Self(bigEndian: UnsafeRawBufferPointer($0).loadUnaligned(as: Self.self)) }) {
            self = loaded
        } else {
            self = bytes.reduce(Self(0)) { $0 << 8 | Self($1) }
        }
    }

    init?(bigEndianBytes bytes: UnsafeRawBufferPointer) {
        guard bytes.count == MemoryLayout<Self>.size else { return nil }
        var value: Self = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: bytes) }
        self.init(bigEndian: value)
    }
}
