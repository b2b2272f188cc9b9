import CLMDB
import NIOCore
import Protocol

/// What read and write transactions share: lookups and log reads against one consistent
/// snapshot. The write side sees its own uncommitted writes, since it reads through its own
/// LMDB transaction.
protocol StoreTransaction {
    var lmdb: LMDBTransaction { get }
    var core: CoreDatabases { get }
    func database(named name: String) -> MDB_dbi?
}

extension StoreTransaction {
    func topicRecord(_ name: String) throws(LogStoreError) -> TopicRecord? {
        do {
            guard let bytes = try lmdb.get(core.topics, key: Array(name.utf8)) else { return nil }
            return try TopicRecord(decoding: bytes)
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "reading topic \(name)")
        } catch {
            throw .corruptMetadata("description of topic \(name)")
        }
    }

    func requireTopic(_ name: String) throws(LogStoreError) -> TopicRecord {
        guard let record = try topicRecord(name) else {
            throw LogStoreError(.unknownTopicOrPartition, "topic \(name) does not exist")
        }
        return record
    }

    func requirePartition(_ topic: String, _ partition: Int32) throws(LogStoreError) -> TopicRecord {
        let record = try requireTopic(topic)
        guard partition >= 0, partition < record.partitionCount else {
            throw LogStoreError(.unknownTopicOrPartition,
                "topic \(topic) has no partition \(partition) (it has \(record.partitionCount))")
        }
        return record
    }

    func partitionState(topicID: UInt64, partition: Int32) throws(LogStoreError) -> PartitionState {
        do {
            guard let bytes = try lmdb.get(core.partitions, key: StoreKeys.partition(topicID: topicID, partition: partition)) else {
                return PartitionState()
            }
            return try PartitionState(decoding: bytes)
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "reading partition state")
        } catch {
            throw .corruptMetadata("state of partition \(partition) of topic id \(topicID)")
        }
    }

    func describeTopic(_ name: String, _ record: TopicRecord) throws(LogStoreError) -> TopicDescription {
        var partitions: [PartitionDescription] = []
        partitions.reserveCapacity(Int(record.partitionCount))
        for partition in 0..<record.partitionCount {
            let state = try partitionState(topicID: record.topicID, partition: partition)
            partitions.append(PartitionDescription(partition: partition, logStartOffset: state.logStartOffset,
                                                   highWatermark: state.nextOffset, sizeBytes: state.sizeBytes,
                                                   batchCount: state.batchCount))
        }
        return TopicDescription(name: name, topicID: record.topicID, createdAtMilliseconds: record.createdAtMilliseconds,
                                configuration: record.configuration, partitions: partitions)
    }

    func topicNames() throws(LogStoreError) -> [String] {
        do {
            return try lmdb.withCursor(core.topics) { cursor in
                var names: [String] = []
                var entry = try cursor.first()
                while let current = entry {
                    names.append(String(decoding: current.key, as: UTF8.self))
                    entry = try cursor.next()
                }
                return names
            }
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "listing topics")
        } catch {
            throw LogStoreError(.storageFailure, "listing topics: \(error)")
        }
    }

    /// Whole batches from the one containing `offset`, at least one, then more while they fit in
    /// `maxBytes`. Every batch is CRC-32C checked before it is handed out.
    func fetchBatches(topic: String, partition: Int32, offset: Int64, maxBytes: Int) throws(LogStoreError) -> FetchResult {
        let record = try requirePartition(topic, partition)
        let state = try partitionState(topicID: record.topicID, partition: partition)
        guard offset >= state.logStartOffset, offset <= state.nextOffset else {
            throw LogStoreError(.offsetOutOfRange,
                "offset \(offset) is outside \(topic)-\(partition)'s range [\(state.logStartOffset), \(state.nextOffset)]")
        }
        var result = FetchResult(records: ByteBuffer(), batchCount: 0, highWatermark: state.nextOffset,
                                 logStartOffset: state.logStartOffset)
        guard offset < state.nextOffset, let dbi = database(named: StoreKeys.logDatabaseName(topic: topic, partition: partition)) else {
            return result
        }
        do {
            try lmdb.withCursor(dbi) { cursor in
                var entry = try startingEntry(cursor: cursor, offset: offset)
                var collected: [UnsafeRawBufferPointer] = []
                var total = 0
                // Relied on by every consumer: the batches returned are dense (each starts where
                // the one before ended) and end within the partition state's next offset.
                var expectedBase: Int64?
                while let current = entry {
                    if !collected.isEmpty, total + current.value.count > maxBytes { break }
                    let baseOffset = Int64(bigEndianBytes: current.key) ?? -1
                    let lastOffsetDelta = try verifyStoredBatch(current.value, topic: topic, partition: partition, baseOffset: baseOffset)
                    if let expectedBase, baseOffset != expectedBase {
                        throw LogStoreError(.corruptBatch, "\(topic)-\(partition) has a batch at offset \(baseOffset) where offset \(expectedBase) was expected: the log's offsets are not dense")
                    }
                    let end = baseOffset + Int64(lastOffsetDelta) + 1
                    guard end <= state.nextOffset else {
                        throw LogStoreError(.corruptBatch, "the batch at offset \(baseOffset) of \(topic)-\(partition) ends at \(end), past the partition's end \(state.nextOffset)")
                    }
                    expectedBase = end
                    collected.append(current.value)
                    total += current.value.count
                    if total >= maxBytes { break }
                    entry = try cursor.next()
                }
                var buffer = ByteBufferAllocator().buffer(capacity: total)
                for batch in collected { buffer.writeBytes(batch) }
                result.records = buffer
                result.batchCount = collected.count
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

    /// The first record whose timestamp is at least `timestamp` (Kafka's ListOffsets by time,
    /// on the records' own timestamps); nil if none. The time index names the first batch that
    /// can hold one; the scan from there normally decodes that one batch.
    func findOffset(topic: String, partition: Int32, timestamp: Int64) throws(LogStoreError) -> (offset: Int64, timestamp: Int64)? {
        let record = try requirePartition(topic, partition)
        guard let dbi = database(named: StoreKeys.logDatabaseName(topic: topic, partition: partition)) else { return nil }
        let state = try partitionState(topicID: record.topicID, partition: partition)
        do {
            guard let start = try TimeIndex.scanStart(lmdb, core.timeIndex, topicID: record.topicID, partition: partition,
                                                       timestamp: timestamp, logStartOffset: state.logStartOffset) else { return nil }
            return try lmdb.withCursor(dbi) { cursor -> (offset: Int64, timestamp: Int64)? in
                var entry = try startingEntry(cursor: cursor, offset: start)
                while let current = entry {
                    let bytes = current.value
                    let baseOffset = Int64(bigEndianBytes: current.key) ?? -1
                    guard let maxTimestamp = TimeIndex.batchMaxTimestamp(bytes) else {
                        throw LogStoreError(.corruptBatch, "batch at offset \(baseOffset) of \(topic)-\(partition) is corrupt: only \(bytes.count) bytes")
                    }
                    if maxTimestamp >= timestamp {
                        try verifyStoredBatch(bytes, topic: topic, partition: partition, baseOffset: baseOffset)
                        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
                        buffer.writeBytes(bytes)
                        // A batch straddling the log start (DeleteRecords) holds records below it: never answered.
                        if let match = try RecordBatch.decodeRecords(buffer).first(where: {
                            $0.timestamp >= timestamp && $0.offset >= state.logStartOffset
                        }) {
                            return (match.offset, match.timestamp)
                        }
                    }
                    entry = try cursor.next()
                }
                return nil
            }
        } catch let error as LogStoreError {
            throw error
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "searching \(topic)-\(partition) by timestamp")
        } catch {
            throw LogStoreError(.corruptBatch, "searching \(topic)-\(partition) by timestamp: \(error)")
        }
    }

    /// The batch whose offset range contains `offset`: the last batch with base <= offset.
    private func startingEntry(cursor: LMDBCursor, offset: Int64) throws -> LMDBCursor.Entry? {
        let found = try cursor.seek(atLeast: offset.bigEndianBytes)
        if let found, Int64(bigEndianBytes: found.key) == offset { return found }
        let previous = found == nil ? try cursor.last() : try cursor.previous()
        guard let previous else { return found }
        return previous
    }

    func loadCommittedOffset(group: String, topic: String, partition: Int32) throws(LogStoreError) -> CommittedOffset? {
        do {
            guard let bytes = try lmdb.get(core.groupOffsets, key: StoreKeys.groupOffset(group: group, topic: topic, partition: partition)) else {
                return nil
            }
            return try CommittedOffset(decoding: bytes)
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "reading offset of group \(group)")
        } catch {
            throw .corruptMetadata("committed offset of group \(group) for \(topic)-\(partition)")
        }
    }

    /// Whether `group` has any committed offset: one cursor seek, nothing decoded.
    func groupHasCommittedOffsets(_ group: String) throws(LogStoreError) -> Bool {
        let prefix = StoreKeys.groupPrefix(group)
        do {
            return try lmdb.withCursor(core.groupOffsets) { cursor in
                try cursor.seek(atLeast: prefix).map { $0.key.starts(with: prefix) } ?? false
            }
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "reading offsets of group \(group)")
        } catch {
            throw LogStoreError(.storageFailure, "reading offsets of group \(group): \(error)")
        }
    }

    func loadCommittedOffsets(group: String) throws(LogStoreError) -> [TopicPartition: CommittedOffset] {
        let prefix = StoreKeys.groupPrefix(group)
        do {
            return try lmdb.withCursor(core.groupOffsets) { cursor in
                var offsets: [TopicPartition: CommittedOffset] = [:]
                var entry = try cursor.seek(atLeast: prefix)
                while let current = entry, current.key.starts(with: prefix) {
                    let key = try StoreKeys.decodeGroupOffset(current.key)
                    offsets[TopicPartition(key.topic, key.partition)] = try CommittedOffset(decoding: current.value)
                    entry = try cursor.next()
                }
                return offsets
            }
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "reading offsets of group \(group)")
        } catch {
            throw .corruptMetadata("committed offsets of group \(group)")
        }
    }

    func groupNames() throws(LogStoreError) -> [String] {
        do {
            return try lmdb.withCursor(core.groupOffsets) { cursor in
                var names: [String] = []
                var entry = try cursor.first()
                while let current = entry {
                    let key = try StoreKeys.decodeGroupOffset(current.key)
                    names.append(key.group)
                    // Skip the rest of this group: seek past its prefix.
                    var next = StoreKeys.groupPrefix(key.group)
                    next.append(0xFF)
                    next.append(0xFF)
                    entry = try cursor.seek(atLeast: next)
                }
                return names
            }
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "listing groups")
        } catch {
            throw .corruptMetadata("group offsets")
        }
    }
}

/// Checks a stored batch before it leaves the store: size, magic and CRC-32C.
/// Checks a stored batch before it is served: its framing, magic, CRC-32C and that its own base
/// offset is the one it is stored under (the CRC does not cover that field). Returns its
/// `lastOffsetDelta`, which the CRC does cover.
@discardableResult
func verifyStoredBatch(_ bytes: UnsafeRawBufferPointer, topic: String, partition: Int32, baseOffset: Int64) throws(LogStoreError) -> Int32 {
    func corrupt(_ why: String) -> LogStoreError {
        LogStoreError(.corruptBatch, "batch at offset \(baseOffset) of \(topic)-\(partition) is corrupt: \(why)")
    }
    guard bytes.count >= RecordBatchHeader.size else { throw corrupt("only \(bytes.count) bytes") }
    let batchLength = Int(Int32(bigEndianBytes: UnsafeRawBufferPointer(rebasing: bytes[8..<12])) ?? -1)
    guard batchLength + 12 == bytes.count else { throw corrupt("length field says \(batchLength + 12) bytes, stored \(bytes.count)") }
    guard bytes[16] == 2 else { throw corrupt("magic \(bytes[16]), expected 2") }
    let storedCRC = UInt32(bigEndianBytes: UnsafeRawBufferPointer(rebasing: bytes[17..<21])) ?? 0
    let actualCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[21...]))
    guard storedCRC == actualCRC else {
        throw corrupt("CRC-32C mismatch (stored \(String(storedCRC, radix: 16)), computed \(String(actualCRC, radix: 16)))")
    }
    let storedBase = Int64(bigEndianBytes: UnsafeRawBufferPointer(rebasing: bytes[0..<8])) ?? -1
    guard storedBase == baseOffset else { throw corrupt("its base offset field says \(storedBase)") }
    let lastOffsetDelta = Int32(bigEndianBytes: UnsafeRawBufferPointer(rebasing: bytes[23..<27])) ?? -1
    guard lastOffsetDelta >= 0 else { throw corrupt("lastOffsetDelta \(lastOffsetDelta)") }
    return lastOffsetDelta
}
