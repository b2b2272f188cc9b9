import NIOCore
import Protocol
import Testing

@Suite struct RecordBatchRoundTripTests {
    private func withOffsets(_ records: [Record], from baseOffset: Int64) -> [Record] {
        records.enumerated().map { index, record in
            var copy = record
            copy.offset = baseOffset + Int64(index)
            return copy
        }
    }

    @Test(arguments: [CompressionCodec.none, .gzip])
    func encodeThenDecodeGivesTheSameRecords(compression: CompressionCodec) throws {
        let batch = try RecordBatch.encode(
            records: sampleRecords, baseOffset: 1000, producerId: 12, producerEpoch: 2, baseSequence: 40,
            compression: compression, isTransactional: true, partitionLeaderEpoch: 9)
        let decoded = try RecordBatch.decodeRecords(batch)
        #expect(decoded == withOffsets(sampleRecords, from: 1000))
        #expect(decoded[1].key == nil, "null key stays null")
        #expect(decoded[2].key == [], "empty key stays empty, not null")
        #expect(decoded[2].value == nil)
        #expect(decoded[0].headers[1].value == nil)
    }

    @Test(arguments: [CompressionCodec.none, .gzip])
    func encodedHeaderDescribesTheBatch(compression: CompressionCodec) throws {
        let batch = try RecordBatch.encode(
            records: sampleRecords, baseOffset: 1000, producerId: 12, producerEpoch: 2, baseSequence: 40,
            compression: compression, isTransactional: true, partitionLeaderEpoch: 9)
        let header = try RecordBatch.validate(batch)
        #expect(header.baseOffset == 1000)
        #expect(header.totalSize == batch.readableBytes)
        #expect(header.partitionLeaderEpoch == 9)
        #expect(header.magic == 2)
        #expect(header.compression == compression)
        #expect(header.isTransactional)
        #expect(!header.isControl)
        #expect(header.timestampType == .createTime)
        #expect(header.recordCount == 4)
        #expect(header.lastOffsetDelta == 3)
        #expect(header.lastOffset == 1003)
        #expect(header.baseTimestamp == 1_700_000_000_000, "the first record's timestamp, not the minimum")
        #expect(header.maxTimestamp == 1_700_000_000_500)
        #expect(header.producerId == 12)
        #expect(header.producerEpoch == 2)
        #expect(header.baseSequence == 40)
        #expect(header.lastSequence == 43)
        #expect(header.hasProducerId)
    }

    @Test func gzipShrinksRepetitiveRecords() throws {
        let records = (0..<100).map { Record(timestamp: Int64($0), key: nil, value: Array(repeating: 0x41, count: 200)) }
        let plain = try RecordBatch.encode(records: records)
        let compressed = try RecordBatch.encode(records: records, compression: .gzip)
        #expect(compressed.readableBytes * 10 < plain.readableBytes)
        #expect(try RecordBatch.decodeRecords(compressed) == RecordBatch.decodeRecords(plain))
    }

    @Test func extremeTimestampsAndManyHeadersRoundTrip() throws {
        let records = [
            Record(timestamp: 0, key: nil, value: nil),
            Record(timestamp: Int64.max, key: nil, value: nil),
            Record(timestamp: -1, key: nil, value: nil,
                   headers: (0..<200).map { RecordHeader(key: "h\($0)", value: $0.isMultiple(of: 3) ? nil : [UInt8($0)]) }),
        ]
        let decoded = try RecordBatch.decodeRecords(RecordBatch.encode(records: records))
        #expect(decoded.map(\.timestamp) == [0, Int64.max, -1])
        #expect(decoded[2].headers == records[2].headers)
    }

    @Test func recordOffsetsInTheInputAreIgnored() throws {
        let records = [Record(offset: 77, timestamp: 5, key: nil, value: [1]), Record(offset: 3, timestamp: 5, key: nil, value: [2])]
        let decoded = try RecordBatch.decodeRecords(RecordBatch.encode(records: records, baseOffset: 10))
        #expect(decoded.map(\.offset) == [10, 11])
    }

    @Test func logAppendTimeGivesEveryRecordTheMaxTimestamp() throws {
        var batch = try RecordBatch.encode(records: sampleRecords)
        let attributes = batch.getInteger(at: 21, as: Int16.self) ?? 0
        batch.setInteger(attributes | 0x08, at: 21)
        batch.setInteger(Int64(1_800_000_000_000), at: 35)  // the broker stamps maxTimestamp
        let batchWithAppendTime = resealed(batch)
        #expect(try RecordBatch.peekHeader(batchWithAppendTime).timestampType == .logAppendTime)
        let decoded = try RecordBatch.decodeRecords(batchWithAppendTime)
        #expect(decoded.map(\.timestamp) == Array(repeating: 1_800_000_000_000, count: sampleRecords.count))
    }

    @Test func encodeRejectsWhatTheWireCannotCarry() {
        #expect(errorCode { () throws(RecordBatchError) in try RecordBatch.encode(records: []) } == .invalidBatch)
        #expect(
            errorCode { () throws(RecordBatchError) in try RecordBatch.encode(records: sampleRecords, compression: .snappy) }
                == .unsupportedCompression)
        let overflowingDelta = [Record(timestamp: Int64.min, key: nil, value: nil), Record(timestamp: Int64.max, key: nil, value: nil)]
        #expect(errorCode { () throws(RecordBatchError) in try RecordBatch.encode(records: overflowingDelta) } == .invalidRecord)
    }

    @Test func decodeRejectsCompressionItCannotInflate() throws {
        let batch = try RecordBatch.encode(records: sampleRecords)
        for codec: Int16 in [2, 3, 4, 5, 7] {
            var edited = batch
            edited.setInteger(codec, at: 21)
            #expect(errorCode { () throws(RecordBatchError) in try RecordBatch.decodeRecords(edited) } == .unsupportedCompression)
        }
    }

    @Test func decodeReadsTheBatchAtTheReaderIndexAndIgnoresTrailingBytes() throws {
        let batch = try RecordBatch.encode(records: sampleRecords, baseOffset: 5)
        var framed = ByteBuffer(bytes: [9, 9, 9])
        framed.writeImmutableBuffer(batch)
        framed.writeBytes([1, 2, 3, 4])
        framed.moveReaderIndex(forwardBy: 3)
        #expect(try RecordBatch.decodeRecords(framed) == withOffsets(sampleRecords, from: 5))
        #expect(try RecordBatch.peekHeader(framed).baseOffset == 5)
    }

    @Test func lastSequenceWrapsPastInt32Max() throws {
        let records = (0..<4).map { Record(timestamp: Int64($0), key: nil, value: nil) }
        let batch = try RecordBatch.encode(records: records, producerId: 1, producerEpoch: 0, baseSequence: Int32.max - 1)
        let header = try RecordBatch.peekHeader(batch)
        #expect(header.lastSequence == 1)
        let noSequence = try RecordBatch.peekHeader(RecordBatch.encode(records: records))
        #expect(noSequence.lastSequence == -1)
        #expect(!noSequence.hasProducerId)
    }
}
