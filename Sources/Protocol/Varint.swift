import NIOCore

/// Kafka zigzag varints (protobuf-style): 7 bits per byte, least significant
/// group first, high bit set on every byte but the last.
public enum Varint {
    public static func writeZigZag32(_ value: Int32, to buffer: inout ByteBuffer) {
        writeUnsigned(UInt64(VarintCoding.zigZagEncode32(value)), to: &buffer)
    }

    public static func writeZigZag64(_ value: Int64, to buffer: inout ByteBuffer) {
        writeUnsigned(VarintCoding.zigZagEncode64(value), to: &buffer)
    }

    /// Throws .truncated when the buffer ends mid-varint and .invalidRecord when the
    /// varint runs past 5 bytes or encodes more than 32 bits. Consumes nothing on error.
    public static func readZigZag32(from buffer: inout ByteBuffer) throws(RecordBatchError) -> Int32 {
        let raw = try readUnsigned(from: &buffer, maxBytes: VarintCoding.maxBytes32, bits: 32)
        return VarintCoding.zigZagDecode32(UInt32(truncatingIfNeeded: raw))
    }

    /// Like `readZigZag32`, for up to 10 bytes / 64 bits.
    public static func readZigZag64(from buffer: inout ByteBuffer) throws(RecordBatchError) -> Int64 {
        let raw = try readUnsigned(from: &buffer, maxBytes: VarintCoding.maxBytes64, bits: 64)
        return VarintCoding.zigZagDecode64(raw)
    }

    public static func encodedSize(zigZag64 value: Int64) -> Int {
        VarintCoding.encodedSize(unsigned: VarintCoding.zigZagEncode64(value))
    }

    public static func encodedSize(zigZag32 value: Int32) -> Int {
        VarintCoding.encodedSize(unsigned: UInt64(VarintCoding.zigZagEncode32(value)))
    }

    private static func writeUnsigned(_ value: UInt64, to buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: VarintCoding.maxBytes64) { destination in
            var writer = ByteWriter(destination)
            writer.writeUnsignedVarint(value)
            return writer.position
        }
    }

    private static func readUnsigned(from buffer: inout ByteBuffer, maxBytes: Int, bits: Int) throws(RecordBatchError) -> UInt64 {
        let outcome = buffer.withUnsafeReadableBytes { VarintCoding.decode($0, at: 0, maxBytes: maxBytes) }
        switch outcome {
        case .value(let raw, let byteCount):
            buffer.moveReaderIndex(forwardBy: byteCount)
            return raw
        case .truncated:
            throw RecordBatchError(.truncated, "varint truncated at reader index \(buffer.readerIndex)")
        case .tooLong:
            throw RecordBatchError(.invalidRecord, "varint at reader index \(buffer.readerIndex) exceeds \(bits) bits")
        }
    }
}

/// The shared varint arithmetic behind `Varint`, the record decoder and the encoder.
enum VarintCoding {
    static let maxBytes32 = 5
    static let maxBytes64 = 10

    enum DecodeOutcome {
        case value(UInt64, byteCount: Int)
        case truncated
        /// More bytes than `maxBytes`, or bits beyond the integer width in the last byte.
        case tooLong
    }

    @inline(__always)
    static func zigZagEncode32(_ value: Int32) -> UInt32 {
        UInt32(bitPattern: (value << 1) ^ (value >> 31))
    }

    @inline(__always)
    static func zigZagEncode64(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    @inline(__always)
    static func zigZagDecode32(_ raw: UInt32) -> Int32 {
        Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    @inline(__always)
    static func zigZagDecode64(_ raw: UInt64) -> Int64 {
        Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    @inline(__always)
    static func encodedSize(unsigned value: UInt64) -> Int {
        let significantBits = 64 - (value | 1).leadingZeroBitCount
        return (significantBits + 6) / 7
    }

    /// Decodes an unsigned varint of at most `maxBytes` bytes starting at `start`.
    /// The last permitted byte may only carry the bits that still fit the width
    /// (4 for 32-bit, 1 for 64-bit), so over-wide encodings are rejected, not truncated.
    @inline(__always)
    static func decode(_ bytes: UnsafeRawBufferPointer, at start: Int, maxBytes: Int) -> DecodeOutcome {
        var result: UInt64 = 0
        var index = start
        var shift: UInt64 = 0
        let widthBits = UInt64(maxBytes == maxBytes32 ? 32 : 64)
        for byteNumber in 0..<maxBytes {
            guard index < bytes.count else { return .truncated }
            let byte = bytes[index]
            index += 1
            let payload = UInt64(byte & 0x7F)
            if byteNumber == maxBytes - 1 {
                let bitsLeft = widthBits - shift
                guard byte & 0x80 == 0, payload >> bitsLeft == 0 else { return .tooLong }
            }
            result |= payload << shift
            if byte & 0x80 == 0 {
                return .value(result, byteCount: index - start)
            }
            shift += 7
        }
        return .tooLong
    }
}
