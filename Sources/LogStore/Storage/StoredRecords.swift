/// The on-disk layouts of the store's own tables. Each starts with a version byte so a later
/// release can add fields and still read what an earlier one wrote.

/// `topics`: topic name -> TopicRecord.
struct TopicRecord: Equatable {
    static let version: UInt8 = 1
    var topicID: UInt64
    var partitionCount: Int32
    var createdAtMilliseconds: Int64
    var configuration: TopicConfiguration

    func encoded() -> [UInt8] {
        var writer = StoredRecordWriter(capacity: 48)
        writer.write(Self.version)
        writer.write(topicID)
        writer.write(partitionCount)
        writer.write(createdAtMilliseconds)
        writer.write(configuration.retentionMilliseconds)
        writer.write(configuration.retentionBytes)
        writer.write(configuration.maximumMessageBytes)
        writer.writeOptionalString(configuration.valueSchema)
        return writer.bytes
    }

    init(topicID: UInt64, partitionCount: Int32, createdAtMilliseconds: Int64, configuration: TopicConfiguration) {
        self.topicID = topicID
        self.partitionCount = partitionCount
        self.createdAtMilliseconds = createdAtMilliseconds
        self.configuration = configuration
    }

    init(decoding bytes: UnsafeRawBufferPointer) throws(StoredRecordCorrupt) {
        var reader = StoredRecordReader(bytes)
        guard try reader.read(UInt8.self) >= 1 else { throw StoredRecordCorrupt() }
        topicID = try reader.read()
        partitionCount = try reader.read()
        createdAtMilliseconds = try reader.read()
        configuration = TopicConfiguration(retentionMilliseconds: try reader.read(), retentionBytes: try reader.read(),
                                           maximumMessageBytes: try reader.read(), valueSchema: try reader.readOptionalString())
    }
}

/// `partitions`: (topicID, partition) -> PartitionState. Written in the same transaction as
/// every append, so the next offset survives a crash even when retention removed every batch.
struct PartitionState: Equatable {
    static let version: UInt8 = 1
    var logStartOffset: Int64 = 0
    var nextOffset: Int64 = 0
    var sizeBytes: Int64 = 0
    var batchCount: Int64 = 0
    /// The largest batch max timestamp indexed so far; nil before the first batch.
    var maxTimestamp: Int64?

    func encoded() -> [UInt8] {
        var writer = StoredRecordWriter(capacity: 42)
        writer.write(Self.version)
        writer.write(logStartOffset)
        writer.write(nextOffset)
        writer.write(sizeBytes)
        writer.write(batchCount)
        writer.write(UInt8(maxTimestamp == nil ? 0 : 1))
        writer.write(maxTimestamp ?? 0)
        return writer.bytes
    }

    init() {}

    init(decoding bytes: UnsafeRawBufferPointer) throws(StoredRecordCorrupt) {
        var reader = StoredRecordReader(bytes)
        let version = try reader.read(UInt8.self)
        guard version >= 1 else { throw StoredRecordCorrupt() }
        logStartOffset = try reader.read()
        nextOffset = try reader.read()
        sizeBytes = try reader.read()
        batchCount = try reader.read()
        let hasMaximum = try reader.read(UInt8.self)
        let maximum = try reader.read(Int64.self)
        maxTimestamp = hasMaximum == 0 ? nil : maximum
        // What every append and fetch relies on: a range that starts at or after 0 and does not
        // end before it starts, and counts that are not negative.
        guard logStartOffset >= 0, nextOffset >= logStartOffset, sizeBytes >= 0, batchCount >= 0 else {
            throw StoredRecordCorrupt()
        }
    }
}

/// `group_offsets`: (group, topic, partition) -> CommittedOffset.
extension CommittedOffset {
    static let storedVersion: UInt8 = 1

    func encoded() -> [UInt8] {
        var writer = StoredRecordWriter(capacity: 32 + (metadata?.utf8.count ?? 0))
        writer.write(Self.storedVersion)
        writer.write(offset)
        writer.write(leaderEpoch)
        writer.write(commitTimestampMilliseconds)
        writer.writeOptionalString(metadata)
        return writer.bytes
    }

    init(decoding bytes: UnsafeRawBufferPointer) throws(StoredRecordCorrupt) {
        var reader = StoredRecordReader(bytes)
        guard try reader.read(UInt8.self) >= 1 else { throw StoredRecordCorrupt() }
        let offset: Int64 = try reader.read()
        let leaderEpoch: Int32 = try reader.read()
        let timestamp: Int64 = try reader.read()
        let metadata = try reader.readOptionalString()
        self.init(offset: offset, leaderEpoch: leaderEpoch, metadata: metadata, commitTimestampMilliseconds: timestamp)
    }
}

/// Keys of the store's tables. Integers are big-endian so memcmp order is numeric order.
enum StoreKeys {
    static func partition(topicID: UInt64, partition: Int32) -> [UInt8] {
        var writer = StoredRecordWriter(capacity: 12)
        writer.write(topicID)
        writer.write(partition)
        return writer.bytes
    }

    static func groupPrefix(_ group: String) -> [UInt8] {
        var writer = StoredRecordWriter(capacity: 2 + group.utf8.count)
        writer.writeShortString(group)
        return writer.bytes
    }

    static func groupOffset(group: String, topic: String, partition: Int32) -> [UInt8] {
        var writer = StoredRecordWriter(capacity: 8 + group.utf8.count + topic.utf8.count)
        writer.writeShortString(group)
        writer.writeShortString(topic)
        writer.write(partition)
        return writer.bytes
    }

    static func decodeGroupOffset(_ key: UnsafeRawBufferPointer) throws(StoredRecordCorrupt) -> (group: String, topic: String, partition: Int32) {
        var reader = StoredRecordReader(key)
        return (try reader.readShortString(), try reader.readShortString(), try reader.read())
    }

    static func producer(producerId: Int64, topicID: UInt64, partition: Int32) -> [UInt8] {
        var writer = StoredRecordWriter(capacity: 20)
        writer.write(producerId)
        writer.write(topicID)
        writer.write(partition)
        return writer.bytes
    }

    static func logDatabaseName(topic: String, partition: Int32) -> String {
        "log:\(topic):\(partition)"
    }

    static func applicationTableName(_ name: String) -> String { "app:\(name)" }

    static let formatVersion: [UInt8] = Array("format-version".utf8)
    static let nextProducerId: [UInt8] = Array("next-producer-id".utf8)
    static let nextTopicID: [UInt8] = Array("next-topic-id".utf8)
}
