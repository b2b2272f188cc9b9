import NIOCore
import Protocol
import Testing

@Suite struct VarintTests {
    @Test(arguments: [Int32.min, Int32.min + 1, -300, -65, -64, -1, 0, 1, 63, 64, 300, 1 << 20, Int32.max - 1, Int32.max])
    func zigZag32RoundTrips(value: Int32) throws {
        var bytes = ByteBuffer()
        Varint.writeZigZag32(value, to: &bytes)
        #expect(bytes.readableBytes == Varint.encodedSize(zigZag32: value))
        #expect(bytes.readableBytes == Varint.encodedSize(zigZag64: Int64(value)), "32- and 64-bit zigzag agree on Int32 values")
        #expect(try Varint.readZigZag32(from: &bytes) == value)
        #expect(bytes.readableBytes == 0)
    }

    @Test(arguments: [Int64.min, Int64.min + 1, Int64(Int32.min) - 1, -1, 0, 1, Int64(Int32.max) + 1, 1 << 56, Int64.max - 1, Int64.max])
    func zigZag64RoundTrips(value: Int64) throws {
        var bytes = ByteBuffer()
        Varint.writeZigZag64(value, to: &bytes)
        #expect(bytes.readableBytes == Varint.encodedSize(zigZag64: value))
        #expect(try Varint.readZigZag64(from: &bytes) == value)
        #expect(bytes.readableBytes == 0)
    }

    @Test func knownEncodings() {
        func encoded32(_ value: Int32) -> [UInt8] {
            var bytes = ByteBuffer()
            Varint.writeZigZag32(value, to: &bytes)
            return bytes.allReadableBytes
        }
        func encoded64(_ value: Int64) -> [UInt8] {
            var bytes = ByteBuffer()
            Varint.writeZigZag64(value, to: &bytes)
            return bytes.allReadableBytes
        }
        #expect(encoded32(0) == [0x00])
        #expect(encoded32(-1) == [0x01])
        #expect(encoded32(1) == [0x02])
        #expect(encoded32(300) == [0xD8, 0x04])
        #expect(encoded32(Int32.min) == [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        #expect(encoded64(Int64.min) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
    }

    @Test func readsConsecutiveValues() throws {
        var bytes = ByteBuffer()
        Varint.writeZigZag32(-5, to: &bytes)
        Varint.writeZigZag64(1 << 40, to: &bytes)
        Varint.writeZigZag32(7, to: &bytes)
        #expect(try Varint.readZigZag32(from: &bytes) == -5)
        #expect(try Varint.readZigZag64(from: &bytes) == 1 << 40)
        #expect(try Varint.readZigZag32(from: &bytes) == 7)
    }

    @Test func truncatedVarintThrowsAndConsumesNothing() {
        var bytes = buffer([0x80, 0x80])
        #expect(errorCode { () throws(RecordBatchError) in try Varint.readZigZag32(from: &bytes) } == .truncated)
        #expect(errorCode { () throws(RecordBatchError) in try Varint.readZigZag64(from: &bytes) } == .truncated)
        #expect(bytes.readableBytes == 2)
        var empty = ByteBuffer()
        #expect(errorCode { () throws(RecordBatchError) in try Varint.readZigZag32(from: &empty) } == .truncated)
    }

    @Test func overlongVarintsThrow() {
        // Six bytes for a 32-bit varint.
        var sixBytes = buffer([0x80, 0x80, 0x80, 0x80, 0x80, 0x00])
        #expect(errorCode { () throws(RecordBatchError) in try Varint.readZigZag32(from: &sixBytes) } == .invalidRecord)
        // Five bytes whose last byte carries bits beyond 32.
        var wide32 = buffer([0xFF, 0xFF, 0xFF, 0xFF, 0x1F])
        #expect(errorCode { () throws(RecordBatchError) in try Varint.readZigZag32(from: &wide32) } == .invalidRecord)
        // Eleven bytes for a 64-bit varint.
        var elevenBytes = buffer([UInt8](repeating: 0x80, count: 10) + [0x00])
        #expect(errorCode { () throws(RecordBatchError) in try Varint.readZigZag64(from: &elevenBytes) } == .invalidRecord)
        // Ten bytes whose last byte carries bits beyond 64.
        var wide64 = buffer([UInt8](repeating: 0xFF, count: 9) + [0x02])
        #expect(errorCode { () throws(RecordBatchError) in try Varint.readZigZag64(from: &wide64) } == .invalidRecord)
        // The widest legal 64-bit encoding still decodes.
        var widest = buffer([UInt8](repeating: 0xFF, count: 9) + [0x01])
        #expect((try? Varint.readZigZag64(from: &widest)) == Int64.min)
    }
}
