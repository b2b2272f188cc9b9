import NIOCore

/// A consumer's reading of one batch from a log: every check a consumer needs before it may
/// trust the records' offsets, in one place, so the service's and the executor's consumers
/// agree on what is poison. A batch that fails any check is one undecodable range for the
/// caller to dead-letter as a whole: when one record's framing or offset is wrong, the
/// offsets of the others cannot be trusted either.
public enum ConsumedBatch {
    /// Why a batch cannot be consumed, in words for the dead letter's reason header.
    public struct Undecodable: Error, Sendable, Hashable, CustomStringConvertible {
        public var code: RecordBatchError.Code
        public var message: String
        public var description: String { message }

        public init(_ error: RecordBatchError) {
            code = error.code
            message = error.message
        }
    }

    /// The batch's records, or why it cannot be consumed. `batch` holds exactly one batch at
    /// its reader index (a stored batch, or one slice of a Fetch `records` field); records
    /// before `from` are dropped. Control batches yield no records. Inflates a gzip batch
    /// once: callers decode each batch once per step and keep its records for the whole step.
    public static func decode(_ batch: ByteBuffer, from offset: Int64 = .min) -> Result<[Record], Undecodable> {
        do {
            let header = try check(batch)
            if header.isControl { return .success([]) }
            let records = try RecordBatch.decodeRecords(batch)
            try checkOffsets(records, header: header)
            return .success(offset == .min ? records : records.filter { $0.offset >= offset })
        } catch {
            return .failure(Undecodable(error))
        }
    }

    /// The header checks a consumer makes: magic 2, batchLength equal to the bytes held,
    /// CRC-32C, a codec this build decodes, counts that agree.
    static func check(_ batch: ByteBuffer) throws(RecordBatchError) -> RecordBatchHeader {
        let header = try RecordBatch.peekHeader(batch)
        guard header.batchLength >= RecordBatchLayout.minimumBatchLength, header.totalSize == batch.readableBytes else {
            throw RecordBatchError(.invalidLength,
                                   "batchLength \(header.batchLength) does not describe the \(batch.readableBytes) bytes stored")
        }
        guard RecordBatch.verifyChecksum(batch) else {
            throw RecordBatchError(.corruptChecksum, "batch at offset \(header.baseOffset) fails its CRC-32C (stored \(RecordBatch.hex(header.crc)))")
        }
        switch header.compression {
        case .none?, .gzip?:
            break
        case .snappy?, .lz4?, .zstd?:
            throw RecordBatchError(.unsupportedCompression, "\(header.compression.map { "\($0)" } ?? "") batches cannot be decoded by this build")
        case nil:
            throw RecordBatchError(.unsupportedCompression, "unknown compression codec \(header.attributes & RecordBatchLayout.compressionMask)")
        }
        guard header.recordCount >= 1, Int64(header.lastOffsetDelta) + 1 == Int64(header.recordCount) else {
            throw RecordBatchError(.invalidBatch,
                                   "lastOffsetDelta \(header.lastOffsetDelta) does not match recordCount \(header.recordCount)")
        }
        return header
    }

    /// Record `i` must sit at baseOffset + i: anything else would give two records one offset,
    /// or an offset outside the range the batch claims.
    static func checkOffsets(_ records: [Record], header: RecordBatchHeader) throws(RecordBatchError) {
        for (index, record) in records.enumerated() where record.offset != header.baseOffset &+ Int64(index) {
            throw RecordBatchError(.invalidRecord,
                                   "record \(index) has offsetDelta \(record.offset &- header.baseOffset), expected \(index)")
        }
    }
}

extension RecordBatch {
    /// The header fields of the first 61 bytes, whatever they hold (no magic or length
    /// check), or nil when fewer bytes are readable: for tools that must handle any bytes.
    public static func headerFields(_ buffer: ByteBuffer) -> RecordBatchHeader? {
        guard buffer.readableBytes >= RecordBatchHeader.size else { return nil }
        return buffer.withUnsafeReadableBytes { parseHeader($0) }
    }
}
