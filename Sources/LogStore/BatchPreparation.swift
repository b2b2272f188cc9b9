import NIOCore
import Protocol

/// The pure steps before a batch reaches the writer: encoding records into a batch and checking a
/// producer's batch. Both `LogStore` (on the caller's task, off the writer thread) and
/// `WriteTransaction` (inside a transaction) use them, so the rules live in one place.
enum BatchPreparation {
    /// Encodes `records` as one batch; records without a timestamp (< 0) get `now`.
    static func encode(_ records: [Record], compression: CompressionCodec, now: Int64, maximumBytes: Int,
                       topic: String, partition: Int32) throws(LogStoreError) -> (batch: ByteBuffer, header: RecordBatchHeader) {
        guard !records.isEmpty else {
            throw LogStoreError(.invalidArgument, "append to \(topic)-\(partition) with no records")
        }
        var stamped = records
        for index in stamped.indices where stamped[index].timestamp < 0 { stamped[index].timestamp = now }
        let batch: ByteBuffer
        let header: RecordBatchHeader
        do {
            batch = try RecordBatch.encode(records: stamped, compression: compression)
            header = try RecordBatch.peekHeader(batch)
        } catch {
            throw LogStoreError(.invalidRecord, "cannot encode records for \(topic)-\(partition): \(error)")
        }
        try checkSize(batch, maximumBytes: maximumBytes, topic: topic, partition: partition)
        return (batch, header)
    }

    /// Kafka's checks on a producer's batch (size, magic, CRC-32C, counts, producer fields).
    static func validate(_ batch: ByteBuffer, maximumBytes: Int, topic: String, partition: Int32) throws(LogStoreError) -> RecordBatchHeader {
        try checkSize(batch, maximumBytes: maximumBytes, topic: topic, partition: partition)
        do { return try RecordBatch.validate(batch) } catch {
            let code: LogStoreError.Code = switch error.code {
            case .corruptChecksum, .invalidLength, .truncated, .decompressionFailed: .corruptMessage
            case .unsupportedCompression: .unsupportedCompression
            case .invalidRecord, .invalidBatch, .unsupportedMagic: .invalidRecord
            }
            throw LogStoreError(code, "invalid batch for \(topic)-\(partition): \(error.message)", recordIndex: error.recordIndex)
        }
    }

    private static func checkSize(_ batch: ByteBuffer, maximumBytes: Int, topic: String, partition: Int32) throws(LogStoreError) {
        guard batch.readableBytes <= maximumBytes else {
            throw LogStoreError(.recordTooLarge,
                "batch of \(batch.readableBytes) bytes for \(topic)-\(partition) exceeds maximumBatchBytes=\(maximumBytes)")
        }
    }
}
