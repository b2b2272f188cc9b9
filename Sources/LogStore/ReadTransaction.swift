import CLMDB

/// A consistent, read-only snapshot of the whole store: topics, logs, offsets and application
/// tables as of one commit. Valid only inside the `LogStore.read` closure that hands it out;
/// keep the closure short, since an open snapshot stops LMDB from reusing freed pages.
public struct ReadTransaction: StoreTransaction {
    let lmdb: LMDBTransaction
    let core: CoreDatabases
    let handles: DatabaseHandles

    /// A handle is published once the write that created its database committed, which can be
    /// after this read's snapshot was taken: such a database does not exist for this read (LMDB
    /// would refuse the handle with EINVAL), so it is answered as missing, as it would have been
    /// a moment earlier.
    func database(named name: String) -> MDB_dbi? {
        guard let dbi = handles.handle(named: name) else { return nil }
        var flags: UInt32 = 0
        return mdb_dbi_flags(lmdb.pointer, dbi, &flags) == 0 ? dbi : nil
    }

    public func topics() throws(LogStoreError) -> [String] { try topicNames() }

    public func describe(topic: String) throws(LogStoreError) -> TopicDescription? {
        guard let record = try topicRecord(topic) else { return nil }
        return try describeTopic(topic, record)
    }

    public func fetch(topic: String, partition: Int32, offset: Int64, maxBytes: Int) throws(LogStoreError) -> FetchResult {
        try fetchBatches(topic: topic, partition: partition, offset: offset, maxBytes: maxBytes)
    }

    /// A topic's configuration, or nil if it does not exist (one lookup, unlike `describe`).
    public func configuration(ofTopic topic: String) throws(LogStoreError) -> TopicConfiguration? {
        try topicRecord(topic)?.configuration
    }

    /// The first offset whose record timestamp is >= `timestamp`, with that timestamp.
    public func offset(topic: String, partition: Int32, forTimestamp timestamp: Int64) throws(LogStoreError) -> (offset: Int64, timestamp: Int64)? {
        try findOffset(topic: topic, partition: partition, timestamp: timestamp)
    }

    public func committedOffset(group: String, topic: String, partition: Int32) throws(LogStoreError) -> CommittedOffset? {
        try loadCommittedOffset(group: group, topic: topic, partition: partition)
    }

    /// Whether the group has a committed offset at all (a cursor seek; `committedOffsets`
    /// reads and decodes them all).
    public func hasCommittedOffsets(group: String) throws(LogStoreError) -> Bool {
        try groupHasCommittedOffsets(group)
    }

    public func committedOffsets(group: String) throws(LogStoreError) -> [TopicPartition: CommittedOffset] {
        try loadCommittedOffsets(group: group)
    }

    public func groups() throws(LogStoreError) -> [String] { try groupNames() }

    /// An application table, or nil if no write transaction has created it yet.
    public func table(_ name: String) -> ReadOnlyTable? {
        guard let dbi = database(named: StoreKeys.applicationTableName(name)) else { return nil }
        return ReadOnlyTable(name: name, lmdb: lmdb, dbi: dbi)
    }
}
