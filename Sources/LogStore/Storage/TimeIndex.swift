import CLMDB
import Protocol

/// `time_index`: (topicID, partition, timestamp) -> base offset, Kafka's time index over the
/// batches' max timestamps. An entry is written only when a batch raises the partition's running
/// maximum, so the entries of a partition grow in both timestamp and offset, and the first entry
/// at or after a timestamp T names the first batch that can hold a record at T or later: every
/// batch before it has a max timestamp below T. ListOffsets by time seeks there instead of
/// scanning the log from its start.
enum TimeIndex {
    static let keySize = 20

    static func prefix(topicID: UInt64, partition: Int32) -> [UInt8] {
        StoreKeys.partition(topicID: topicID, partition: partition)
    }

    /// Timestamps ordered as unsigned big-endian bytes: the sign bit flipped.
    static func key(topicID: UInt64, partition: Int32, timestamp: Int64) -> [UInt8] {
        var writer = StoredRecordWriter(capacity: keySize)
        writer.write(topicID)
        writer.write(partition)
        writer.write(UInt64(bitPattern: timestamp) ^ (1 << 63))
        return writer.bytes
    }

    static func timestamp(ofKey key: UnsafeRawBufferPointer) -> Int64? {
        guard key.count == keySize, let ordered = UInt64(bigEndianBytes: UnsafeRawBufferPointer(rebasing: key[12..<20])) else { return nil }
        return Int64(bitPattern: ordered ^ (1 << 63))
    }

    /// Records a new batch: an entry when it raises the running maximum.
    static func record(_ lmdb: LMDBTransaction, _ dbi: MDB_dbi, topicID: UInt64, partition: Int32,
                       batchMaxTimestamp: Int64, baseOffset: Int64, state: inout PartitionState) throws {
        if let runningMaximum = state.maxTimestamp, batchMaxTimestamp <= runningMaximum { return }
        try lmdb.put(dbi, key: key(topicID: topicID, partition: partition, timestamp: batchMaxTimestamp), value: baseOffset.bigEndianBytes)
        state.maxTimestamp = batchMaxTimestamp
    }

    /// The offset to scan from for the first record at or after `timestamp`, or nil when no batch
    /// of the partition has a timestamp that late.
    static func scanStart(_ lmdb: LMDBTransaction, _ dbi: MDB_dbi, topicID: UInt64, partition: Int32,
                          timestamp: Int64, logStartOffset: Int64) throws -> Int64? {
        let partitionPrefix = prefix(topicID: topicID, partition: partition)
        return try lmdb.withCursor(dbi) { cursor -> Int64? in
            guard let entry = try cursor.seek(atLeast: key(topicID: topicID, partition: partition, timestamp: timestamp)),
                  entry.key.starts(with: partitionPrefix) else { return nil }
            // Entries for batches retention removed are clamped to the log start (see `prune`).
            return max(Int64(bigEndianBytes: entry.value) ?? 0, logStartOffset)
        }
    }

    /// After retention moved the log start: entries for removed batches go, except the last of
    /// them, whose timestamp is still the running maximum over the batches that follow it until
    /// the next entry (those batches were not indexed because they did not raise it).
    static func prune(_ lmdb: LMDBTransaction, _ dbi: MDB_dbi, topicID: UInt64, partition: Int32, logStartOffset: Int64) throws {
        let partitionPrefix = prefix(topicID: topicID, partition: partition)
        try lmdb.withCursor(dbi) { cursor in
            var entry = try cursor.seek(atLeast: partitionPrefix)
            var removable = 0
            while let current = entry, current.key.starts(with: partitionPrefix),
                  let offset = Int64(bigEndianBytes: current.value), offset < logStartOffset {
                removable += 1
                entry = try cursor.next()
            }
            // Re-seeking after each delete rather than trusting the cursor's position after
            // mdb_cursor_del, as removeOldestBatches does.
            for _ in 0..<max(0, removable - 1) {
                guard let current = try cursor.seek(atLeast: partitionPrefix), current.key.starts(with: partitionPrefix) else { break }
                try cursor.deleteCurrent()
            }
        }
    }

    /// Removes every entry of a partition.
    static func removeAll(_ lmdb: LMDBTransaction, _ dbi: MDB_dbi, topicID: UInt64, partition: Int32) throws {
        let partitionPrefix = prefix(topicID: topicID, partition: partition)
        try lmdb.withCursor(dbi) { cursor in
            while let current = try cursor.seek(atLeast: partitionPrefix), current.key.starts(with: partitionPrefix) {
                try cursor.deleteCurrent()
            }
        }
    }

    /// The max timestamp field of a stored batch's header (bytes 35..<43).
    static func batchMaxTimestamp(_ batch: UnsafeRawBufferPointer) -> Int64? {
        guard batch.count >= RecordBatchHeader.size else { return nil }
        return Int64(bigEndianBytes: UnsafeRawBufferPointer(rebasing: batch[35..<43]))
    }
}
