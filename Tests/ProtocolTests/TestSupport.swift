import NIOCore
import PaynodeTestSupport
import Protocol
import Testing

func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: bytes)
}

func buffer(hex: String) -> ByteBuffer {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(hex.utf8.count / 2)
    var pending: UInt8?
    for character in hex.utf8 {
        let nibble: UInt8
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = character - UInt8(ascii: "a") + 10
        default: continue  // whitespace and line breaks in the literal
        }
        if let high = pending {
            bytes.append(high << 4 | nibble)
            pending = nil
        } else {
            pending = nibble
        }
    }
    precondition(pending == nil, "odd number of hex digits")
    return ByteBuffer(bytes: bytes)
}

extension ByteBuffer {
    var allReadableBytes: [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
}

/// Recomputes the stored CRC after a test edits covered header fields, so that the
/// check under test fails for its own reason and not because of the checksum.
func resealed(_ batch: ByteBuffer) -> ByteBuffer {
    var copy = batch
    let crc = copy.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[21...])) }
    copy.setInteger(crc, at: copy.readerIndex + 17)
    return copy
}

/// Catches the typed error so tests can compare codes.
func errorCode<T>(_ body: () throws(RecordBatchError) -> T) -> RecordBatchError.Code? {
    do {
        _ = try body()
        return nil
    } catch {
        return error.code
    }
}

let sampleRecords: [Record] = [
    Record(
        timestamp: 1_700_000_000_000, key: Array("k1".utf8), value: Array("first value".utf8),
        headers: [RecordHeader(key: "h", value: [1, 2, 3]), RecordHeader(key: "empty", value: nil)]),
    Record(timestamp: 1_700_000_000_500, key: nil, value: Array("no key".utf8)),
    Record(timestamp: 1_699_999_999_000, key: [], value: nil, headers: [RecordHeader(key: "ключ", value: [])]),
    Record(timestamp: 1_700_000_000_100, key: Array(repeating: 0xAB, count: 300), value: Array(repeating: 7, count: 1000)),
]

/// What `encode` writes, as lowercase hex (golden-bytes tests).
func hex(_ encode: (inout ByteBuffer) -> Void) -> String {
    var buffer = ByteBuffer()
    encode(&buffer)
    return buffer.readableBytesView.map { String(format2: $0) }.joined()
}

/// Encodes as Kafka does (`expected` is another implementation's bytes), decodes back to the
/// same value with nothing left over, and every truncation is an error rather than a trap.
func roundTrip<Body: Equatable>(_ value: Body, _ expected: String, version: Int16,
                                encode: (Body, inout ByteBuffer) -> Void,
                                decode: (inout ByteBuffer) throws -> Body) throws {
    #expect(hex { encode(value, &$0) } == expected)
    var bytes = buffer(hex: expected)
    #expect(try decode(&bytes) == value)
    #expect(bytes.readableBytes == 0)
    for cut in stride(from: 0, to: expected.count - 2, by: 2) {
        var truncated = buffer(hex: String(expected.prefix(cut)))
        #expect(throws: (any Error).self) { try decode(&truncated) }
    }
}

extension String {
    /// A byte as two lowercase hex digits (golden-bytes tests).
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self.init([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
