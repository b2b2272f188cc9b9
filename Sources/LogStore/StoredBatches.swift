import CLMDB
import NIOCore
import Protocol

/// One stored batch as the store holds it, not checked: its bytes may fail their CRC-32C, hold
/// a garbage header or records no decoder can read. The offsets come from the store itself
/// (the batch's key and the next batch's key, or the high watermark after the last one), not
/// from the batch's bytes, so a consumer knows exactly which offsets a batch it cannot read
/// covers, and can skip it without skipping anything else.
public struct StoredBatch: Sendable {
    /// The offset the store appended the batch at (its LMDB key).
    public var baseOffset: Int64
    /// One past the batch's last offset: the next stored batch's base offset, or the high
    /// watermark for the last batch.
    public var endOffset: Int64
    public var bytes: ByteBuffer

    public init(baseOffset: Int64, endOffset: Int64, bytes: ByteBuffer) {
        self.baseOffset = baseOffset
        self.endOffset = endOffset
        self.bytes = bytes
    }
}

/// `StoredBatch`es from one partition, with its offsets at the time of the read.
public struct StoredBatches: Sendable {
    public var batches: [StoredBatch]
    public var highWatermark: Int64
    public var logStartOffset: Int64
}

extension StoreTransaction {
    /// Whole stored batches from the one holding `offset` on, up to about `maxBytes` (the first
    /// batch always), without the CRC-32C check `fetch` makes: for consumers of the store's
    /// own log that isolate what they cannot read instead of failing on it.
    func readStoredBatches(topic: String, partition: Int32, offset: Int64, maxBytes: Int) throws(LogStoreError) -> StoredBatches {
        let record = try requirePartition(topic, partition)
        let state = try partitionState(topicID: record.topicID, partition: partition)
        guard offset >= state.logStartOffset, offset <= state.nextOffset else {
            throw LogStoreError(.offsetOutOfRange,
                "offset \(offset) is outside \(topic)-\(partition)'s range [\(state.logStartOffset), \(state.nextOffset)]")
        }
        var result = StoredBatches(batches: [], highWatermark: state.nextOffset, logStartOffset: state.logStartOffset)
        guard offset < state.nextOffset, let dbi = database(named: StoreKeys.logDatabaseName(topic: topic, partition: partition)) else {
            return result
        }
        do {
            try lmdb.withCursor(dbi) { cursor in
                var entry = try cursor.seek(atLeast: offset.bigEndianBytes)
                if entry.map({ Int64(bigEndianBytes: $0.key) != offset }) ?? true {
                    // `offset` lies inside the batch before the one found (or after the last).
                    if let previous = entry == nil ? try cursor.last() : try cursor.previous() { entry = previous }
                }
                var collected: [(base: Int64, bytes: ByteBuffer)] = []
                var total = 0
                // The base offset of the batch after the last one collected, if there is one.
                var nextBase: Int64?
                while let current = entry {
                    let base = Int64(bigEndianBytes: current.key) ?? -1
                    if !collected.isEmpty, total + current.value.count > maxBytes {
                        nextBase = base
                        break
                    }
                    var buffer = ByteBufferAllocator().buffer(capacity: current.value.count)
                    buffer.writeBytes(current.value)
                    collected.append((base, buffer))
                    total += current.value.count
                    entry = try cursor.next()
                    if total >= maxBytes {
                        nextBase = entry.map { Int64(bigEndianBytes: $0.key) ?? -1 }
                        break
                    }
                }
                for (index, batch) in collected.enumerated() {
                    let end = index + 1 < collected.count ? collected[index + 1].base : nextBase ?? state.nextOffset
                    result.batches.append(StoredBatch(baseOffset: batch.base, endOffset: end, bytes: batch.bytes))
                }
            }
        } catch let error as LogStoreError {
            throw error
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "reading \(topic)-\(partition) at offset \(offset)")
        } catch {
            throw LogStoreError(.storageFailure, "reading \(topic)-\(partition): \(error)")
        }
        return result
    }
}

extension ReadTransaction {
    /// See `StoreTransaction.storedBatches`: the partition's stored batches, unchecked.
    public func storedBatches(topic: String, partition: Int32, offset: Int64, maxBytes: Int) throws(LogStoreError) -> StoredBatches {
        try readStoredBatches(topic: topic, partition: partition, offset: offset, maxBytes: maxBytes)
    }
}

extension LogStore {
    /// Unchecked stored batches from `offset` (see `StoredBatch`), long-polling like `fetch`.
    public func storedBatches(topic: String, partition: Int32, offset: Int64, maxBytes: Int = 1 << 20,
                              maxWait: Duration = .zero) async throws -> StoredBatches {
        let deadline = ContinuousClock.now + maxWait
        let partitionKey = TopicPartition(topic, partition)
        while true {
            let result = try read { try $0.storedBatches(topic: topic, partition: partition, offset: offset, maxBytes: maxBytes) }
            if !result.batches.isEmpty || ContinuousClock.now >= deadline || Task.isCancelled {
                return result
            }
            await waitForAppend(after: [partitionKey: result.highWatermark], until: deadline)
        }
    }

    /// FAULT INJECTION ONLY (`paynode store append-raw`): appends `batch` as it is, checking no
    /// more than the store needs to keep its own bookkeeping sound (a 61-byte header, a
    /// lastOffsetDelta >= 0, the batch size limit). Its CRC, magic, counts and records are not
    /// checked, so a test can place what an older release, a flipped byte or a bug could have
    /// left in a log, and see every consumer isolate it.
    public func appendUnvalidatedForFaultInjection(topic: String, partition: Int32, batch: ByteBuffer) async throws -> AppendResult {
        guard batch.readableBytes >= RecordBatchHeader.size else {
            throw LogStoreError(.invalidArgument, "a raw batch needs at least the \(RecordBatchHeader.size)-byte header, got \(batch.readableBytes) bytes")
        }
        guard batch.readableBytes <= configuration.maximumBatchBytes else {
            throw LogStoreError(.recordTooLarge, "raw batch of \(batch.readableBytes) bytes exceeds maximumBatchBytes=\(configuration.maximumBatchBytes)")
        }
        let header = RecordBatch.headerFields(batch)
        guard let header, header.lastOffsetDelta >= 0 else {
            throw LogStoreError(.invalidArgument, "the batch's lastOffsetDelta is negative: the store could not give it offsets")
        }
        return try await write(estimatedBytes: batch.readableBytes) {
            try $0.appendEncoded(topic: topic, partition: partition, batch: batch, header: header)
        }
    }
}
