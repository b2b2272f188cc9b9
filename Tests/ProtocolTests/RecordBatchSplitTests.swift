import NIOCore
import Protocol
import Testing

@Suite struct RecordBatchSplitTests {
    private func batches() throws -> [ByteBuffer] {
        try (0..<3).map { index throws(RecordBatchError) in
            try RecordBatch.encode(
                records: Array(sampleRecords.prefix(index + 1)), baseOffset: Int64(index * 10),
                compression: index == 1 ? .gzip : .none)
        }
    }

    private func concatenated(_ parts: [ByteBuffer]) -> ByteBuffer {
        var all = ByteBuffer()
        for part in parts { all.writeImmutableBuffer(part) }
        return all
    }

    @Test func splitsWholeBatches() throws {
        let parts = try batches()
        let result = try RecordBatch.split(concatenated(parts))
        #expect(!result.truncatedTail)
        #expect(result.batches.map(\.allReadableBytes) == parts.map(\.allReadableBytes))
        #expect(try result.batches.map { try RecordBatch.peekHeader($0).baseOffset } == [0, 10, 20])
    }

    @Test func reportsATruncatedTailSeparately() throws {
        let parts = try batches()
        for tailLength in [1, 11, 12, 60, 61, parts[2].readableBytes - 1] {
            var input = concatenated(Array(parts.prefix(2)))
            input.writeImmutableBuffer(parts[2].getSlice(at: 0, length: tailLength) ?? ByteBuffer())
            let result = try RecordBatch.split(input)
            #expect(result.truncatedTail, "tail of \(tailLength) bytes")
            #expect(result.batches.count == 2, "tail of \(tailLength) bytes")
        }
    }

    @Test func respectsTheReaderIndex() throws {
        let parts = try batches()
        var input = ByteBuffer(bytes: [0xEE, 0xEE])
        input.writeImmutableBuffer(concatenated(parts))
        input.moveReaderIndex(forwardBy: 2)
        let result = try RecordBatch.split(input)
        #expect(result.batches.count == 3)
        #expect(!result.truncatedTail)
    }

    @Test func emptyInputHasNoBatches() throws {
        let result = try RecordBatch.split(ByteBuffer())
        #expect(result.batches.isEmpty)
        #expect(!result.truncatedTail)
    }

    @Test func rejectsABatchLengthTooSmallToFrame() throws {
        var input = try batches()[0]
        input.setInteger(Int32(48), at: 8)
        #expect(errorCode { () throws(RecordBatchError) in try RecordBatch.split(input) } == .invalidLength)
    }

    @Test func setBaseOffsetKeepsTheBatchValidAndShiftsRecordOffsets() throws {
        var batch = try RecordBatch.encode(records: sampleRecords, producerId: 3, producerEpoch: 0, baseSequence: 0, compression: .gzip)
        RecordBatch.setBaseOffset(500, partitionLeaderEpoch: 4, in: &batch)
        let header = try RecordBatch.validate(batch)
        #expect(header.baseOffset == 500)
        #expect(header.partitionLeaderEpoch == 4)
        #expect(header.lastOffset == 503)
        #expect(try RecordBatch.decodeRecords(batch).map(\.offset) == [500, 501, 502, 503])
    }

    @Test func setBaseOffsetWritesAtTheReaderIndex() throws {
        let parts = try batches()
        let split = try RecordBatch.split(concatenated(parts))
        var second = split.batches[1]
        RecordBatch.setBaseOffset(77, in: &second)
        #expect(try RecordBatch.validate(second).baseOffset == 77)
        #expect(try RecordBatch.peekHeader(split.batches[1]).baseOffset == 10, "slices are values: the original is untouched")
    }
}
