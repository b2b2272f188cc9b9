import NIOCore
import PaynodeTestSupport
import Protocol
import Testing

@Suite struct GzipTests {
    @Test(arguments: [0, 1, 1000, 200_000])
    func roundTrips(length: Int) throws {
        var generator = SeededGenerator(seed: UInt64(length))
        // Half random, half repetitive, so both stored and compressed deflate blocks occur.
        let original = generator.bytes(length / 2) + [UInt8](repeating: 0x61, count: length - length / 2)
        let compressed = try Gzip.compress(buffer(original))
        #expect(compressed.getBytes(at: 0, length: 2) == [0x1F, 0x8B], "RFC 1952 magic")
        #expect(try Gzip.decompress(compressed).allReadableBytes == original)
    }

    @Test func compressionLevelsAllDecompress() throws {
        let original = buffer([UInt8](repeating: 0x42, count: 10_000))
        for level: Int32 in [0, 1, 9, -1] {
            #expect(try Gzip.decompress(Gzip.compress(original, level: level)) == original)
        }
        #expect(errorCode { () throws(RecordBatchError) in try Gzip.compress(original, level: 42) } != nil)
    }

    @Test func garbageThrows() {
        var generator = SeededGenerator(seed: 3)
        for input in [generator.bytes(100), [0x1F, 0x8B, 0x08, 0x00], [], [0x1F, 0x8B] + generator.bytes(50)] {
            #expect(errorCode { () throws(RecordBatchError) in try Gzip.decompress(buffer(input)) } == .decompressionFailed)
        }
    }

    @Test func truncatedStreamThrows() throws {
        let compressed = try Gzip.compress(buffer(Array(repeating: 0x33, count: 5000)))
        for length in [compressed.readableBytes - 1, compressed.readableBytes - 8, 12] {
            let truncated = compressed.getSlice(at: 0, length: length) ?? ByteBuffer()
            #expect(errorCode { () throws(RecordBatchError) in try Gzip.decompress(truncated) } == .decompressionFailed)
        }
    }

    @Test func maxOutputGuardsAgainstBombs() throws {
        let size = 1 << 20
        let bomb = try Gzip.compress(buffer([UInt8](repeating: 0, count: size)), level: 9)
        #expect(bomb.readableBytes < 2000)
        #expect(errorCode { () throws(RecordBatchError) in try Gzip.decompress(bomb, maxOutput: 1000) } == .decompressionFailed)
        #expect(errorCode { () throws(RecordBatchError) in try Gzip.decompress(bomb, maxOutput: size - 1) } == .decompressionFailed)
        #expect(try Gzip.decompress(bomb, maxOutput: size).readableBytes == size)
    }

    @Test func concatenatedMembersInflateInOrder() throws {
        var joined = try Gzip.compress(ByteBuffer(string: "hello, "))
        joined.writeImmutableBuffer(try Gzip.compress(ByteBuffer(string: "world")))
        #expect(try Gzip.decompress(joined) == ByteBuffer(string: "hello, world"))
    }
}
