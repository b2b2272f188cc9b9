import NIOCore
import Protocol
import Testing

/// Batches built by kafka-python 3.0.12's `DefaultRecordBatchBuilder` (magic 2);
/// regenerate with `golden/make_golden.py`.
@Suite struct GoldenBatchTests {
    /// Uncompressed; producerId 4242, epoch 3, baseSequence 17; three records with a
    /// null key, a null value, a null header value, a non-ASCII header key and a
    /// timestamp below the base timestamp.
    static let kafkaPythonUncompressed = buffer(hex: """
        0000000000000000000000890000000002249d9b830000000000020000018bcfe568000000018bcfe568fa\
        000000000000109200030000001100000003640000000e6f726465722d311c7b22616d6f756e74223a3132\
        357d041074726163652d69640c6162633132330a7265747279011a00f40302010c6e6f206b6579002c0013\
        040e6f726465722d3301020a636166c3a90400ff
        """)

    /// Gzip, transactional; producerId 77, epoch 1, baseSequence 2147483646; four records.
    static let kafkaPythonGzip = buffer(hex: """
        000000000000000000000085000000000241f15e740011000000030000018bcfe56be80000018bcfe56beb\
        000000000000004d00017ffffffe000000041f8b08003d95046b02ffdbc0c4c0c0c093989c5ca26bd0c054\
        9058999b9a57a2305034134776665e0a574a6a5266c9062606262688cb0c079dcb5858202e331a742e6363\
        83b8cc7870b90c004100a80668020000
        """)

    static let uncompressedRecords = [
        Record(
            offset: 0, timestamp: 1_700_000_000_000, key: Array("order-1".utf8), value: Array(#"{"amount":125}"#.utf8),
            headers: [RecordHeader(key: "trace-id", value: Array("abc123".utf8)), RecordHeader(key: "retry", value: nil)]),
        Record(offset: 1, timestamp: 1_700_000_000_250, key: nil, value: Array("no key".utf8)),
        Record(
            offset: 2, timestamp: 1_699_999_999_990, key: Array("order-3".utf8), value: nil,
            headers: [RecordHeader(key: "café", value: [0x00, 0xFF])]),
    ]

    static let gzipRecords = (0..<4).map { index in
        Record(
            offset: Int64(index), timestamp: 1_700_000_001_000 + Int64(index), key: Array("acct-\(index)".utf8),
            value: Array(String(repeating: "payment ", count: 16).utf8),
            headers: [RecordHeader(key: "kind", value: Array("debit".utf8))])
    }

    @Test func decodesKafkaPythonUncompressedBatch() throws {
        #expect(RecordBatch.verifyChecksum(Self.kafkaPythonUncompressed))
        let header = try RecordBatch.validate(Self.kafkaPythonUncompressed)
        #expect(header.crc == 0x249D_9B83)
        #expect(header.batchLength == 137)
        #expect(header.compression == CompressionCodec.none)
        #expect(header.producerId == 4242)
        #expect(header.producerEpoch == 3)
        #expect(header.baseSequence == 17)
        #expect(header.recordCount == 3)
        #expect(header.baseTimestamp == 1_700_000_000_000)
        #expect(header.maxTimestamp == 1_700_000_000_250)
        #expect(try RecordBatch.decodeRecords(Self.kafkaPythonUncompressed) == Self.uncompressedRecords)
    }

    @Test func encodesByteIdenticallyToKafkaPython() throws {
        let ours = try RecordBatch.encode(
            records: Self.uncompressedRecords, producerId: 4242, producerEpoch: 3, baseSequence: 17)
        #expect(ours.allReadableBytes == Self.kafkaPythonUncompressed.allReadableBytes)
    }

    @Test func decodesKafkaPythonGzipBatch() throws {
        #expect(RecordBatch.verifyChecksum(Self.kafkaPythonGzip))
        let header = try RecordBatch.validate(Self.kafkaPythonGzip)
        #expect(header.compression == .gzip)
        #expect(header.isTransactional)
        #expect(header.producerId == 77)
        #expect(header.producerEpoch == 1)
        #expect(header.baseSequence == Int32.max - 1)
        #expect(header.lastSequence == 1, "Int32.max - 1 + 3 wraps to 1")
        #expect(try RecordBatch.decodeRecords(Self.kafkaPythonGzip) == Self.gzipRecords)
    }

    @Test func ourGzipBatchDecodesToTheSameRecordsAsKafkaPythons() throws {
        let ours = try RecordBatch.encode(
            records: Self.gzipRecords, producerId: 77, producerEpoch: 1, baseSequence: Int32.max - 1,
            compression: .gzip, isTransactional: true)
        let ourHeader = try RecordBatch.validate(ours)
        let theirHeader = try RecordBatch.peekHeader(Self.kafkaPythonGzip)
        #expect(ourHeader.attributes == theirHeader.attributes)
        #expect(try RecordBatch.decodeRecords(ours) == RecordBatch.decodeRecords(Self.kafkaPythonGzip))
    }
}
