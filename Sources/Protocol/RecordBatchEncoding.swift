import NIOCore

extension RecordBatch {
    /// Builds a complete batch. Timestamps: baseTimestamp = first record's timestamp,
    /// maxTimestamp = max; offsetDelta = index; record offsets in `records` are ignored.
    /// Attributes carry CreateTime. Throws .invalidBatch for an empty record list,
    /// .unsupportedCompression for snappy/lz4/zstd, .invalidRecord when a field does
    /// not fit its wire type, .invalidLength when the batch would exceed Int32 bytes.
    public static func encode(
        records: [Record],
        baseOffset: Int64 = 0,
        producerId: Int64 = -1,
        producerEpoch: Int16 = -1,
        baseSequence: Int32 = -1,
        compression: CompressionCodec = .none,
        isTransactional: Bool = false,
        partitionLeaderEpoch: Int32 = 0
    ) throws(RecordBatchError) -> ByteBuffer {
        guard let firstRecord = records.first else {
            throw RecordBatchError(.invalidBatch, "a record batch needs at least one record")
        }
        guard records.count <= Int(Int32.max) else {
            throw RecordBatchError(.invalidBatch, "\(records.count) records exceed the Int32 record count")
        }
        switch compression {
        case .none, .gzip: break
        case .snappy, .lz4, .zstd:
            throw RecordBatchError(.unsupportedCompression, "encoding with \(compression) is not supported")
        }

        let baseTimestamp = firstRecord.timestamp
        var maxTimestamp = baseTimestamp
        // Sizing first lets the writer fill exactly reserved memory in one pass;
        // the sizes are kept so the writer need not recompute them.
        var recordsSectionSize = 0
        var bodySizes: [Int32] = []
        bodySizes.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            maxTimestamp = max(maxTimestamp, record.timestamp)
            let bodySize = try RecordEncoding.bodySize(of: record, index: index, baseTimestamp: baseTimestamp)
            bodySizes.append(bodySize)
            recordsSectionSize += Varint.encodedSize(zigZag32: bodySize) + Int(bodySize)
        }

        var attributes = compression.rawValue
        if isTransactional { attributes |= RecordBatchLayout.transactionalFlag }
        let header = RecordBatchHeader(
            baseOffset: baseOffset,
            batchLength: 0,  // filled in once the (possibly compressed) size is known
            partitionLeaderEpoch: partitionLeaderEpoch,
            magic: RecordBatchLayout.currentMagic,
            crc: 0,
            attributes: attributes,
            lastOffsetDelta: Int32(records.count - 1),
            baseTimestamp: baseTimestamp,
            maxTimestamp: maxTimestamp,
            producerId: producerId,
            producerEpoch: producerEpoch,
            baseSequence: baseSequence,
            recordCount: Int32(records.count))

        let allocator = ByteBufferAllocator()
        var batch: ByteBuffer
        if compression == .gzip {
            var section = allocator.buffer(capacity: recordsSectionSize)
            writeRecordsSection(
                records, bodySizes: bodySizes, baseTimestamp: baseTimestamp, size: recordsSectionSize, into: &section)
            let compressed = try Gzip.compress(section)
            batch = allocator.buffer(capacity: RecordBatchHeader.size + compressed.readableBytes)
            writeHeader(header, into: &batch)
            batch.writeImmutableBuffer(compressed)
        } else {
            batch = allocator.buffer(capacity: RecordBatchHeader.size + recordsSectionSize)
            writeHeader(header, into: &batch)
            writeRecordsSection(
                records, bodySizes: bodySizes, baseTimestamp: baseTimestamp, size: recordsSectionSize, into: &batch)
        }

        let batchLength = batch.readableBytes - RecordBatchLayout.bytesBeforeBatchLengthEnd
        guard batchLength <= Int(Int32.max) else {
            throw RecordBatchError(.invalidLength, "encoded batch of \(batch.readableBytes) bytes exceeds the Int32 batchLength")
        }
        batch.setInteger(Int32(batchLength), at: batch.readerIndex + RecordBatchLayout.batchLengthOffset)
        let crc = batch.withUnsafeReadableBytes {
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchLayout.attributesOffset...]))
        }
        batch.setInteger(crc, at: batch.readerIndex + RecordBatchLayout.crcOffset)
        return batch
    }

    private static func writeHeader(_ header: RecordBatchHeader, into buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: RecordBatchHeader.size) { destination in
            var writer = ByteWriter(destination)
            writer.writeBigEndian(header.baseOffset)
            writer.writeBigEndian(header.batchLength)
            writer.writeBigEndian(header.partitionLeaderEpoch)
            writer.writeBigEndian(header.magic)
            writer.writeBigEndian(header.crc)
            writer.writeBigEndian(header.attributes)
            writer.writeBigEndian(header.lastOffsetDelta)
            writer.writeBigEndian(header.baseTimestamp)
            writer.writeBigEndian(header.maxTimestamp)
            writer.writeBigEndian(header.producerId)
            writer.writeBigEndian(header.producerEpoch)
            writer.writeBigEndian(header.baseSequence)
            writer.writeBigEndian(header.recordCount)
            return writer.position
        }
    }

    /// Writes every record straight into the buffer's spare capacity; `size` was
    /// computed by `RecordEncoding.bodySize`, so nothing is allocated per record.
    private static func writeRecordsSection(
        _ records: [Record], bodySizes: [Int32], baseTimestamp: Int64, size: Int, into buffer: inout ByteBuffer
    ) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { destination in
            var writer = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: destination[0..<size]))
            for (index, record) in records.enumerated() {
                RecordEncoding.write(record, index: index, bodySize: bodySizes[index], baseTimestamp: baseTimestamp, to: &writer)
            }
            precondition(writer.position == size, "record size computation disagrees with the writer")
            return size
        }
    }
}

/// Per-record wire layout: length varint, attributes int8, timestampDelta varlong,
/// offsetDelta varint, key, value, header count, headers.
enum RecordEncoding {
    /// Size of the record after its length prefix. Validated here so that
    /// `write` can use wrapping conversions: lengths fit Int32, deltas do not overflow.
    static func bodySize(of record: Record, index: Int, baseTimestamp: Int64) throws(RecordBatchError) -> Int32 {
        let (timestampDelta, overflow) = record.timestamp.subtractingReportingOverflow(baseTimestamp)
        guard !overflow else {
            throw RecordBatchError(
                .invalidRecord,
                "record \(index) timestamp \(record.timestamp) is too far from the base timestamp \(baseTimestamp)")
        }
        var size = 1  // attributes
        size += Varint.encodedSize(zigZag64: timestampDelta)
        size += Varint.encodedSize(zigZag32: Int32(index))
        size += try nullableBytesSize(record.key?.count, field: "key", index: index)
        size += try nullableBytesSize(record.value?.count, field: "value", index: index)
        guard record.headers.count <= Int(Int32.max) else {
            throw RecordBatchError(.invalidRecord, "record \(index) has \(record.headers.count) headers, more than Int32")
        }
        size += Varint.encodedSize(zigZag32: Int32(record.headers.count))
        for header in record.headers {
            size += try lengthPrefixedSize(header.key.utf8.count, field: "header key", index: index)
            size += try nullableBytesSize(header.value?.count, field: "header value", index: index)
        }
        guard size <= Int(Int32.max) else {
            throw RecordBatchError(.invalidRecord, "record \(index) is \(size) bytes, more than a record length can express")
        }
        return Int32(size)
    }

    private static func nullableBytesSize(_ count: Int?, field: String, index: Int) throws(RecordBatchError) -> Int {
        guard let count else { return 1 }
        return try lengthPrefixedSize(count, field: field, index: index)
    }

    /// Size of a varint length followed by `count` bytes.
    private static func lengthPrefixedSize(_ count: Int, field: String, index: Int) throws(RecordBatchError) -> Int {
        guard count <= Int(Int32.max) else {
            throw RecordBatchError(.invalidRecord, "record \(index) \(field) of \(count) exceeds Int32")
        }
        return Varint.encodedSize(zigZag32: Int32(count)) + count
    }

    @inline(__always)
    static func write(_ record: Record, index: Int, bodySize: Int32, baseTimestamp: Int64, to writer: inout ByteWriter) {
        // Wrapping is safe: bodySize(of:) already rejected overflowing deltas and lengths.
        let timestampDelta = record.timestamp &- baseTimestamp
        writer.writeZigZag32(bodySize)
        writer.writeByte(0)  // record attributes: unused by Kafka
        writer.writeZigZag64(timestampDelta)
        writer.writeZigZag32(Int32(truncatingIfNeeded: index))
        writeNullable(record.key, to: &writer)
        writeNullable(record.value, to: &writer)
        writer.writeZigZag32(Int32(truncatingIfNeeded: record.headers.count))
        for header in record.headers {
            writer.writeZigZag32(Int32(truncatingIfNeeded: header.key.utf8.count))
            writer.writeUTF8(header.key)
            writeNullable(header.value, to: &writer)
        }
    }

    @inline(__always)
    private static func writeNullable(_ bytes: [UInt8]?, to writer: inout ByteWriter) {
        guard let bytes else {
            writer.writeZigZag32(-1)
            return
        }
        writer.writeZigZag32(Int32(truncatingIfNeeded: bytes.count))
        writer.writeBytes(bytes)
    }
}
