import NIOCore
import Protocol

/// SplitMix64: a tiny deterministic generator so randomized tests replay exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

extension SeededGenerator {
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &self) }
    }
}

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
