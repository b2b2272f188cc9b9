import NIOCore

/// Kafka record batch v2 (magic 2): header parsing, validation, encoding,
/// decoding and splitting. Everything here treats its input as untrusted.
public enum RecordBatch {
    /// Parse the header at `buffer.readerIndex` without consuming it.
    /// Throws .truncated when fewer than 61 bytes, .unsupportedMagic when magic != 2.
    public static func peekHeader(_ buffer: ByteBuffer) throws(RecordBatchError) -> RecordBatchHeader {
        guard buffer.readableBytes >= RecordBatchHeader.size else {
            throw RecordBatchError(
                .truncated,
                "record batch header needs \(RecordBatchHeader.size) bytes, only \(buffer.readableBytes) readable")
        }
        let header = buffer.withUnsafeReadableBytes { parseHeader($0) }
        guard header.magic == RecordBatchLayout.currentMagic else {
            throw RecordBatchError(
                .unsupportedMagic,
                "record batch at offset \(header.baseOffset) has magic \(header.magic), only magic 2 is supported")
        }
        return header
    }

    /// CRC-32C over bytes from offset 21 (attributes) to the end of the batch, compared
    /// to the stored crc. False as well when the bytes cannot hold the batch that
    /// the header's batchLength describes.
    public static func verifyChecksum(_ batch: ByteBuffer) -> Bool {
        batch.withUnsafeReadableBytes { bytes in
            guard bytes.count >= RecordBatchHeader.size else { return false }
            let batchLength = loadBigEndian(bytes, at: RecordBatchLayout.batchLengthOffset, as: Int32.self)
            guard batchLength >= RecordBatchLayout.minimumBatchLength else { return false }
            let totalSize = Int(batchLength) + RecordBatchLayout.bytesBeforeBatchLengthEnd
            guard totalSize <= bytes.count else { return false }
            let stored = loadBigEndian(bytes, at: RecordBatchLayout.crcOffset, as: UInt32.self)
            let covered = UnsafeRawBufferPointer(rebasing: bytes[RecordBatchLayout.attributesOffset..<totalSize])
            return CRC32C.checksum(covered) == stored
        }
    }

    /// Full validation of one client-produced batch occupying exactly the readable bytes:
    /// magic 2, batchLength matches, checksum, lastOffsetDelta + 1 == recordCount,
    /// recordCount >= 1, not a control batch, baseSequence >= 0 when producerId >= 0,
    /// compression one the broker can decode, and every record well formed (`validateRecords`).
    /// Returns the header.
    public static func validate(_ batch: ByteBuffer) throws(RecordBatchError) -> RecordBatchHeader {
        let header = try peekHeader(batch)
        guard header.batchLength >= RecordBatchLayout.minimumBatchLength else {
            throw RecordBatchError(
                .invalidLength,
                "batchLength \(header.batchLength) is below the minimum \(RecordBatchLayout.minimumBatchLength)")
        }
        guard header.totalSize == batch.readableBytes else {
            throw RecordBatchError(
                .invalidLength,
                "batchLength \(header.batchLength) implies \(header.totalSize) bytes but the batch has \(batch.readableBytes)")
        }
        guard verifyChecksum(batch) else {
            let actual = batch.withUnsafeReadableBytes {
                CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchLayout.attributesOffset...]))
            }
            throw RecordBatchError(
                .corruptChecksum,
                "stored crc \(hex(header.crc)) but bytes 21..<\(header.totalSize) checksum to \(hex(actual))")
        }
        guard header.compression != nil else {
            throw RecordBatchError(
                .unsupportedCompression,
                "unknown compression codec \(header.attributes & RecordBatchLayout.compressionMask) in attributes \(header.attributes)")
        }
        guard !header.isControl else {
            throw RecordBatchError(.invalidBatch, "control batches may only be written by the broker")
        }
        guard header.recordCount >= 1 else {
            throw RecordBatchError(.invalidBatch, "recordCount \(header.recordCount) must be at least 1")
        }
        guard Int64(header.lastOffsetDelta) + 1 == Int64(header.recordCount) else {
            throw RecordBatchError(
                .invalidBatch,
                "lastOffsetDelta \(header.lastOffsetDelta) does not match recordCount \(header.recordCount)")
        }
        guard !header.hasProducerId || header.baseSequence >= 0 else {
            throw RecordBatchError(
                .invalidBatch,
                "producerId \(header.producerId) is set but baseSequence is \(header.baseSequence)")
        }
        try validateRecords(batch)
        return header
    }

    /// Rewrites baseOffset (and partitionLeaderEpoch) in place; the checksum does not
    /// cover them so it stays valid. The batch must start at the reader index and
    /// hold at least a header; anything shorter is a caller bug.
    public static func setBaseOffset(_ offset: Int64, partitionLeaderEpoch: Int32 = 0, in batch: inout ByteBuffer) {
        precondition(batch.readableBytes >= RecordBatchHeader.size, "setBaseOffset needs a whole batch header")
        let start = batch.readerIndex
        batch.setInteger(offset, at: start + RecordBatchLayout.baseOffsetOffset)
        batch.setInteger(partitionLeaderEpoch, at: start + RecordBatchLayout.partitionLeaderEpochOffset)
    }

    /// The same for a batch already copied into `bytes` (e.g. LMDB's reserved space), so a
    /// batch that is a slice of a request is stored with one copy instead of being copied on
    /// write first.
    public static func setBaseOffset(_ offset: Int64, partitionLeaderEpoch: Int32 = 0, in bytes: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count >= RecordBatchHeader.size, "setBaseOffset needs a whole batch header")
        bytes.storeBytes(of: offset.bigEndian, toByteOffset: RecordBatchLayout.baseOffsetOffset, as: Int64.self)
        bytes.storeBytes(of: partitionLeaderEpoch.bigEndian, toByteOffset: RecordBatchLayout.partitionLeaderEpochOffset, as: Int32.self)
    }

    /// Splits a concatenation of batches (a Produce or Fetch `records` field) into whole
    /// batches, as slices sharing the input's storage. A truncated trailing batch (which
    /// brokers legitimately send in Fetch responses) is reported instead of returned.
    /// Throws .invalidLength when a batchLength is too small to be a v2 batch, since
    /// the rest of the input cannot then be framed. Magic is not checked here.
    public static func split(_ records: ByteBuffer) throws(RecordBatchError) -> (batches: [ByteBuffer], truncatedTail: Bool) {
        var batches: [ByteBuffer] = []
        var position = records.readerIndex
        let end = records.writerIndex
        while position < end {
            let remaining = end - position
            guard remaining >= RecordBatchLayout.bytesBeforeBatchLengthEnd,
                let batchLength = records.getInteger(at: position + RecordBatchLayout.batchLengthOffset, as: Int32.self)
            else {
                return (batches, true)
            }
            guard batchLength >= RecordBatchLayout.minimumBatchLength else {
                throw RecordBatchError(
                    .invalidLength,
                    "batch at byte \(position - records.readerIndex) has batchLength \(batchLength), below the minimum \(RecordBatchLayout.minimumBatchLength)")
            }
            let totalSize = Int(batchLength) + RecordBatchLayout.bytesBeforeBatchLengthEnd
            guard totalSize <= remaining, let batch = records.getSlice(at: position, length: totalSize) else {
                return (batches, true)
            }
            batches.append(batch)
            position += totalSize
        }
        return (batches, false)
    }

    static func parseHeader(_ bytes: UnsafeRawBufferPointer) -> RecordBatchHeader {
        RecordBatchHeader(
            baseOffset: loadBigEndian(bytes, at: RecordBatchLayout.baseOffsetOffset, as: Int64.self),
            batchLength: loadBigEndian(bytes, at: RecordBatchLayout.batchLengthOffset, as: Int32.self),
            partitionLeaderEpoch: loadBigEndian(bytes, at: RecordBatchLayout.partitionLeaderEpochOffset, as: Int32.self),
            magic: loadBigEndian(bytes, at: RecordBatchLayout.magicOffset, as: Int8.self),
            crc: loadBigEndian(bytes, at: RecordBatchLayout.crcOffset, as: UInt32.self),
            attributes: loadBigEndian(bytes, at: RecordBatchLayout.attributesOffset, as: Int16.self),
            lastOffsetDelta: loadBigEndian(bytes, at: RecordBatchLayout.lastOffsetDeltaOffset, as: Int32.self),
            baseTimestamp: loadBigEndian(bytes, at: RecordBatchLayout.baseTimestampOffset, as: Int64.self),
            maxTimestamp: loadBigEndian(bytes, at: RecordBatchLayout.maxTimestampOffset, as: Int64.self),
            producerId: loadBigEndian(bytes, at: RecordBatchLayout.producerIdOffset, as: Int64.self),
            producerEpoch: loadBigEndian(bytes, at: RecordBatchLayout.producerEpochOffset, as: Int16.self),
            baseSequence: loadBigEndian(bytes, at: RecordBatchLayout.baseSequenceOffset, as: Int32.self),
            recordCount: loadBigEndian(bytes, at: RecordBatchLayout.recordCountOffset, as: Int32.self))
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
