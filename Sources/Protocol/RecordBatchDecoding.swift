import NIOCore

extension RecordBatch {
    /// Decodes the records of the whole batch at the reader index (inflating gzip), with
    /// absolute offsets (baseOffset + offsetDelta) and absolute timestamps (baseTimestamp +
    /// delta; for LogAppendTime batches every record gets maxTimestamp).
    /// Bytes past the batch's totalSize are ignored; the checksum is not checked (see `validate`).
    /// Throws .unsupportedCompression for snappy/lz4/zstd, .invalidRecord for malformed
    /// varints/lengths/counts, .truncated when the bytes end before the batch does.
    public static func decodeRecords(_ batch: ByteBuffer) throws(RecordBatchError) -> [Record] {
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

        switch header.compression {
        case .none?:
            return try section.withUnsafeReadableBytes { bytes throws(RecordBatchError) in
                try RecordDecoding.decodeSection(bytes, header: header)
            }
        case .gzip?:
            let inflated = try Gzip.decompress(section)
            return try inflated.withUnsafeReadableBytes { bytes throws(RecordBatchError) in
                try RecordDecoding.decodeSection(bytes, header: header)
            }
        case .snappy?, .lz4?, .zstd?:
            throw RecordBatchError(
                .unsupportedCompression, "\(header.compression.map { "\($0)" } ?? "") batches cannot be decoded")
        case nil:
            throw RecordBatchError(
                .unsupportedCompression,
                "unknown compression codec \(header.attributes & RecordBatchLayout.compressionMask)")
        }
    }
}

enum RecordDecoding {
    /// The smallest encoded record: length, attributes, timestamp delta, offset delta,
    /// null key, null value and header count, one byte each.
    static let minimumRecordSize = 7
    /// A header is at least a key length and a value length.
    static let minimumHeaderSize = 2

    static func decodeSection(_ bytes: UnsafeRawBufferPointer, header: RecordBatchHeader) throws(RecordBatchError) -> [Record] {
        var reader = ByteReader(bytes)
        guard header.recordCount >= 0 else {
            throw RecordBatchError(.invalidRecord, "negative recordCount \(header.recordCount)")
        }
        let recordCount = Int(header.recordCount)
        // The count is untrusted: never reserve more than the bytes could possibly hold.
        guard recordCount <= bytes.count / minimumRecordSize else {
            throw RecordBatchError(
                .invalidRecord,
                "recordCount \(recordCount) cannot fit in a records section of \(bytes.count) bytes")
        }
        var records: [Record] = []
        records.reserveCapacity(recordCount)
        for index in 0..<recordCount {
            let lengthStart = reader.position
            let length = try reader.readZigZag32("record length")
            guard length >= 0, Int(length) <= reader.remaining else {
                throw reader.failure(
                    "record \(index) length \(length) does not fit the \(reader.remaining) remaining bytes", at: lengthStart)
            }
            var body = reader.subReader(count: Int(length), recordIndex: index)
            records.append(try decodeRecord(&body, header: header))
            guard body.remaining == 0 else {
                throw body.failure("\(body.remaining) unread bytes after the headers")
            }
        }
        guard reader.remaining == 0 else {
            throw reader.failure("\(reader.remaining) bytes after the last of \(recordCount) records")
        }
        return records
    }

    private static func decodeRecord(_ reader: inout ByteReader, header: RecordBatchHeader) throws(RecordBatchError) -> Record {
        _ = try reader.readInt8()  // record attributes: unused by Kafka
        let timestampStart = reader.position
        let timestampDelta = try reader.readZigZag64("timestamp delta")
        let offsetStart = reader.position
        let offsetDelta = try reader.readZigZag32("offset delta")
        let key = try reader.readNullableBytes("key").map { [UInt8]($0) }
        let value = try reader.readNullableBytes("value").map { [UInt8]($0) }

        let headerCountStart = reader.position
        let headerCount = try reader.readZigZag32("header count")
        guard headerCount >= 0, Int(headerCount) <= reader.remaining / minimumHeaderSize else {
            throw reader.failure("header count \(headerCount) does not fit the \(reader.remaining) remaining bytes", at: headerCountStart)
        }
        var headers: [RecordHeader] = []
        headers.reserveCapacity(Int(headerCount))
        for _ in 0..<Int(headerCount) {
            let keyStart = reader.position
            guard let keyBytes = try reader.readNullableBytes("header key") else {
                throw reader.failure("null header key", at: keyStart)
            }
            // Like Kafka's Utils.utf8, invalid UTF-8 is repaired rather than rejected.
            let headerKey = String(decoding: keyBytes, as: UTF8.self)
            let headerValue = try reader.readNullableBytes("header value").map { [UInt8]($0) }
            headers.append(RecordHeader(key: headerKey, value: headerValue))
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
        return Record(offset: offset, timestamp: timestamp, key: key, value: value, headers: headers)
    }
}
