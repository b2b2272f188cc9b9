import NIOCore

extension RecordBatch {
    /// Decodes the records of the whole batch at the reader index (inflating gzip), with
    /// absolute offsets (baseOffset + offsetDelta) and absolute timestamps (baseTimestamp +
    /// delta; for LogAppendTime batches every record gets maxTimestamp).
    /// Bytes past the batch's totalSize are ignored; the checksum is not checked (see `validate`).
    /// Offset deltas must increase and stay within lastOffsetDelta; gaps are allowed, because a
    /// compacted log (a real Kafka cluster's) removes records from its batches.
    /// Throws .unsupportedCompression for snappy/lz4/zstd, .invalidRecord for malformed
    /// varints/lengths/counts, .truncated when the bytes end before the batch does.
    public static func decodeRecords(_ batch: ByteBuffer) throws(RecordBatchError) -> [Record] {
        var records: [Record] = []
        try withRecordsSection(batch) { bytes, header throws(RecordBatchError) in
            records.reserveCapacity(try RecordDecoding.checkedRecordCount(header, sectionBytes: bytes.count))
            try RecordDecoding.forEachRecord(bytes, header: header, offsetDeltas: .increasing) { raw throws(RecordBatchError) in
                records.append(try raw.record())
            }
        }
        return records
    }

    /// Walks every record of a producer's batch without copying any of them: the checks Kafka
    /// makes on the produce path. Offset deltas must be exactly 0, 1, 2, ... (Kafka assigns
    /// offsets by them), lengths, varints and header counts must fit, timestamps must not
    /// overflow, and nothing may follow the last record. A failure names the record's index.
    public static func validateRecords(_ batch: ByteBuffer) throws(RecordBatchError) {
        try withRecordsSection(batch) { bytes, header throws(RecordBatchError) in
            try RecordDecoding.forEachRecord(bytes, header: header, offsetDeltas: .dense) { _ throws(RecordBatchError) in }
        }
    }

    /// The batch's records section, inflated once if the batch is gzip-compressed.
    static func withRecordsSection(
        _ batch: ByteBuffer, _ body: (UnsafeRawBufferPointer, RecordBatchHeader) throws(RecordBatchError) -> Void
    ) throws(RecordBatchError) {
        let header = try peekHeader(batch)
        guard header.batchLength >= RecordBatchLayout.minimumBatchLength else {
            throw RecordBatchError(
                .invalidLength,
                "batchLength \(header.batchLength) is below the minimum \(RecordBatchLayout.minimumBatchLength)")
        }
        guard header.totalSize <= batch.readableBytes else {
            throw RecordBatchError(
                .truncated, "batch needs \(header.totalSize) bytes but only \(batch.readableBytes) are readable")
        }
        guard let section = batch.getSlice(
            at: batch.readerIndex + RecordBatchHeader.size, length: header.totalSize - RecordBatchHeader.size)
        else {
            throw RecordBatchError(.truncated, "records section lies outside the buffer")
        }
        let plain: ByteBuffer
        switch header.compression {
        case .none?:
            plain = section
        case .gzip?:
            plain = try Gzip.decompress(section)
        case .snappy?, .lz4?, .zstd?:
            throw RecordBatchError(
                .unsupportedCompression, "\(header.compression.map { "\($0)" } ?? "") batches cannot be decoded")
        case nil:
            throw RecordBatchError(
                .unsupportedCompression,
                "unknown compression codec \(header.attributes & RecordBatchLayout.compressionMask)")
        }
        try plain.withUnsafeReadableBytes { bytes throws(RecordBatchError) in try body(bytes, header) }
    }
}

/// One record as slices of the records section: nothing copied until `record()`.
struct RawRecord {
    var index: Int
    var offset: Int64
    var timestamp: Int64
    var key: UnsafeRawBufferPointer?
    var value: UnsafeRawBufferPointer?
    var headerCount: Int
    /// The headers' bytes, already checked by the walk that produced this record.
    var headers: ByteReader

    func record() throws(RecordBatchError) -> Record {
        var reader = headers
        var decoded: [RecordHeader] = []
        decoded.reserveCapacity(headerCount)
        for _ in 0..<headerCount {
            let (key, value) = try RecordDecoding.readHeader(&reader)
            // Like Kafka's Utils.utf8, invalid UTF-8 is repaired rather than rejected.
            decoded.append(RecordHeader(key: String(decoding: key, as: UTF8.self), value: value.map { [UInt8]($0) }))
        }
        return Record(offset: offset, timestamp: timestamp, key: key.map { [UInt8]($0) }, value: value.map { [UInt8]($0) },
                      headers: decoded)
    }
}

enum RecordDecoding {
    /// The smallest encoded record: length, attributes, timestamp delta, offset delta,
    /// null key, null value and header count, one byte each.
    static let minimumRecordSize = 7
    /// A header is at least a key length and a value length.
    static let minimumHeaderSize = 2

    enum OffsetDeltaRule {
        /// 0, 1, 2, ...: what a producer must send.
        case dense
        /// Strictly increasing and at most lastOffsetDelta: what a compacted log may hold.
        case increasing
    }

    /// The header's record count, refused when negative or when the section could not hold it
    /// (the count is untrusted: never reserve more than the bytes could possibly hold).
    static func checkedRecordCount(_ header: RecordBatchHeader, sectionBytes: Int) throws(RecordBatchError) -> Int {
        guard header.recordCount >= 0 else {
            throw RecordBatchError(.invalidRecord, "negative recordCount \(header.recordCount)")
        }
        let recordCount = Int(header.recordCount)
        guard recordCount <= sectionBytes / minimumRecordSize else {
            throw RecordBatchError(
                .invalidRecord,
                "recordCount \(recordCount) cannot fit in a records section of \(sectionBytes) bytes")
        }
        return recordCount
    }

    /// Parses every record of a section and hands each to `body` in order.
    static func forEachRecord(
        _ bytes: UnsafeRawBufferPointer, header: RecordBatchHeader, offsetDeltas: OffsetDeltaRule,
        _ body: (RawRecord) throws(RecordBatchError) -> Void
    ) throws(RecordBatchError) {
        var reader = ByteReader(bytes)
        let recordCount = try checkedRecordCount(header, sectionBytes: bytes.count)
        var previousDelta = Int64(-1)
        for index in 0..<recordCount {
            let lengthStart = reader.position
            let length = try reader.readZigZag32("record length")
            guard length >= 0, Int(length) <= reader.remaining else {
                throw reader.failure(
                    "record \(index) length \(length) does not fit the \(reader.remaining) remaining bytes", at: lengthStart)
            }
            var recordReader = reader.subReader(count: Int(length), recordIndex: index)
            let raw = try parseRecord(&recordReader, index: index, header: header, offsetDeltas: offsetDeltas,
                                      previousDelta: previousDelta)
            guard recordReader.remaining == 0 else {
                throw recordReader.failure("\(recordReader.remaining) unread bytes after the headers")
            }
            previousDelta = raw.offset &- header.baseOffset
            try body(raw)
        }
        guard reader.remaining == 0 else {
            throw reader.failure("\(reader.remaining) bytes after the last of \(recordCount) records")
        }
    }

    private static func parseRecord(_ reader: inout ByteReader, index: Int, header: RecordBatchHeader,
                                    offsetDeltas: OffsetDeltaRule, previousDelta: Int64) throws(RecordBatchError) -> RawRecord {
        _ = try reader.readInt8()  // record attributes: unused by Kafka
        let timestampStart = reader.position
        let timestampDelta = try reader.readZigZag64("timestamp delta")
        let offsetStart = reader.position
        let offsetDelta = try reader.readZigZag32("offset delta")
        switch offsetDeltas {
        case .dense:
            guard Int(offsetDelta) == index else {
                throw reader.failure("offset delta \(offsetDelta) is not the record's index \(index)", at: offsetStart)
            }
        case .increasing:
            guard Int64(offsetDelta) > previousDelta, offsetDelta <= header.lastOffsetDelta else {
                throw reader.failure(
                    "offset delta \(offsetDelta) does not follow \(previousDelta) within lastOffsetDelta \(header.lastOffsetDelta)",
                    at: offsetStart)
            }
        }
        let key = try reader.readNullableBytes("key")
        let value = try reader.readNullableBytes("value")

        let headerCountStart = reader.position
        let headerCount = try reader.readZigZag32("header count")
        guard headerCount >= 0, Int(headerCount) <= reader.remaining / minimumHeaderSize else {
            throw reader.failure("header count \(headerCount) does not fit the \(reader.remaining) remaining bytes", at: headerCountStart)
        }
        let headers = reader
        for _ in 0..<Int(headerCount) {
            _ = try readHeader(&reader)
        }

        let (offset, offsetOverflow) = header.baseOffset.addingReportingOverflow(Int64(offsetDelta))
        guard !offsetOverflow else {
            throw reader.failure("offset delta \(offsetDelta) overflows base offset \(header.baseOffset)", at: offsetStart)
        }
        let timestamp: Int64
        switch header.timestampType {
        case .logAppendTime:
            timestamp = header.maxTimestamp
        case .createTime:
            let (sum, overflow) = header.baseTimestamp.addingReportingOverflow(timestampDelta)
            guard !overflow else {
                throw reader.failure(
                    "timestamp delta \(timestampDelta) overflows base timestamp \(header.baseTimestamp)", at: timestampStart)
            }
            timestamp = sum
        }
        return RawRecord(index: index, offset: offset, timestamp: timestamp, key: key, value: value,
                         headerCount: Int(headerCount), headers: headers)
    }

    static func readHeader(_ reader: inout ByteReader) throws(RecordBatchError) -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?) {
        let keyStart = reader.position
        guard let key = try reader.readNullableBytes("header key") else {
            throw reader.failure("null header key", at: keyStart)
        }
        return (key, try reader.readNullableBytes("header value"))
    }
}
