/// Reads untrusted bytes with every access bounds-checked by a throwing guard,
/// so malformed input surfaces as an error instead of a trap.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var position: Int
    /// Where `bytes` starts within the records section and which record it holds;
    /// kept as numbers so error messages cost nothing until something fails.
    let origin: Int
    let recordIndex: Int?

    init(_ bytes: UnsafeRawBufferPointer, origin: Int = 0, recordIndex: Int? = nil) {
        self.bytes = bytes
        self.position = 0
        self.origin = origin
        self.recordIndex = recordIndex
    }

    var remaining: Int { bytes.count - position }

    func failure(_ what: String, at offset: Int? = nil) -> RecordBatchError {
        let record = recordIndex.map { " in record \($0)" } ?? ""
        return RecordBatchError(.invalidRecord, "\(what)\(record) at byte \(origin + (offset ?? position)) of the records section",
                                recordIndex: recordIndex)
    }

    /// A reader over the next `count` bytes, advancing past them.
    mutating func subReader(count: Int, recordIndex: Int) -> ByteReader {
        defer { position += count }
        return ByteReader(
            UnsafeRawBufferPointer(rebasing: bytes[position..<position + count]),
            origin: origin + position, recordIndex: recordIndex)
    }

    mutating func readInt8() throws(RecordBatchError) -> Int8 {
        guard position < bytes.count else { throw failure("unexpected end of data") }
        defer { position += 1 }
        return Int8(bitPattern: bytes[position])
    }

    /// `field` and `suffix` are joined only for the error: building "\(field) length" for every
    /// call cost a heap allocation per field of every record on the produce and consume paths.
    /// A one-byte varint (every length and delta below 64, most of a record's) is decoded
    /// inline; longer ones take `readLongZigZag32`.
    @inline(__always)
    mutating func readZigZag32(_ field: String, suffix: String = "") throws(RecordBatchError) -> Int32 {
        if position < bytes.count, bytes[position] < 0x80 {
            let raw = bytes[position]
            position += 1
            return VarintCoding.zigZagDecode32(UInt32(raw))
        }
        return try readLongZigZag32(field, suffix: suffix)
    }

    private mutating func readLongZigZag32(_ field: String, suffix: String) throws(RecordBatchError) -> Int32 {
        let start = position
        switch VarintCoding.decode(bytes, at: position, maxBytes: VarintCoding.maxBytes32) {
        case .value(let raw, let byteCount):
            position += byteCount
            return VarintCoding.zigZagDecode32(UInt32(truncatingIfNeeded: raw))
        case .truncated:
            throw failure("truncated varint \(field)\(suffix)", at: start)
        case .tooLong:
            throw failure("malformed varint \(field)\(suffix) (more than 32 bits)", at: start)
        }
    }

    mutating func readZigZag64(_ field: String) throws(RecordBatchError) -> Int64 {
        let start = position
        switch VarintCoding.decode(bytes, at: position, maxBytes: VarintCoding.maxBytes64) {
        case .value(let raw, let byteCount):
            position += byteCount
            return VarintCoding.zigZagDecode64(raw)
        case .truncated:
            throw failure("truncated varint \(field)", at: start)
        case .tooLong:
            throw failure("malformed varint \(field) (more than 64 bits)", at: start)
        }
    }

    /// A varint length followed by that many bytes; -1 means null.
    mutating func readNullableBytes(_ field: String) throws(RecordBatchError) -> UnsafeRawBufferPointer? {
        let start = position
        let length = try readZigZag32(field, suffix: " length")
        if length == -1 { return nil }
        guard length >= 0 else { throw failure("negative \(field) length \(length)", at: start) }
        guard Int(length) <= remaining else {
            throw failure("\(field) length \(length) exceeds the \(remaining) remaining bytes", at: start)
        }
        defer { position += Int(length) }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + Int(length)])
    }
}

/// Writes into memory whose exact size was computed beforehand. Overrunning it
/// would mean the size computation and the writer disagree, a programming error,
/// so that is a precondition rather than a thrown error.
struct ByteWriter {
    let bytes: UnsafeMutableRawBufferPointer
    var position: Int

    init(_ bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
        self.position = 0
    }

    @inline(__always)
    mutating func writeByte(_ byte: UInt8) {
        precondition(position < bytes.count, "ByteWriter overrun")
        bytes[position] = byte
        position += 1
    }

    @inline(__always)
    mutating func writeBigEndian<T: FixedWidthInteger>(_ value: T) {
        let size = MemoryLayout<T>.size
        precondition(position + size <= bytes.count, "ByteWriter overrun")
        bytes.storeBytes(of: value.bigEndian, toByteOffset: position, as: T.self)
        position += size
    }

    @inline(__always)
    mutating func writeUnsignedVarint(_ value: UInt64) {
        var remainingValue = value
        while remainingValue >= 0x80 {
            writeByte(UInt8(truncatingIfNeeded: remainingValue) | 0x80)
            remainingValue >>= 7
        }
        writeByte(UInt8(truncatingIfNeeded: remainingValue))
    }

    @inline(__always)
    mutating func writeZigZag32(_ value: Int32) {
        writeUnsignedVarint(UInt64(VarintCoding.zigZagEncode32(value)))
    }

    @inline(__always)
    mutating func writeZigZag64(_ value: Int64) {
        writeUnsignedVarint(VarintCoding.zigZagEncode64(value))
    }

    mutating func writeBytes(_ source: UnsafeRawBufferPointer) {
        guard source.count > 0 else { return }
        precondition(position + source.count <= bytes.count, "ByteWriter overrun")
        UnsafeMutableRawBufferPointer(rebasing: bytes[position..<position + source.count]).copyMemory(from: source)
        position += source.count
    }

    mutating func writeBytes(_ source: [UInt8]) {
        source.withUnsafeBytes { writeBytes($0) }
    }

    mutating func writeUTF8(_ string: String) {
        let wroteContiguously: Void? = string.utf8.withContiguousStorageIfAvailable { writeBytes(UnsafeRawBufferPointer($0)) }
        if wroteContiguously == nil {
            for byte in string.utf8 { writeByte(byte) }
        }
    }
}

func loadBigEndian<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, at offset: Int, as type: T.Type) -> T {
    T(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
}
