import CLMDB
import NIOCore
import Protocol

/// One caller's view of the current group-commit transaction. Everything done through it
/// (appends, offset commits, producer state, application tables) becomes durable together,
/// or not at all. Valid only during the `LogStore.write` closure, which runs on the writer
/// thread: do no blocking I/O there, and expect it may run again if another caller's work in
/// the same group fails (so keep it free of outside side effects).
public final class WriteTransaction: StoreTransaction {
    let lmdb: LMDBTransaction
    let core: CoreDatabases
    private let handles: DatabaseHandles
    private let limits: Limits
    /// Wall-clock time of this attempt, used for append times and commit timestamps.
    public let nowMilliseconds: Int64

    struct Limits {
        var maximumBatchBytes: Int
        var maximumDatabases: Int
        var maximumPartitions: Int
    }

    /// Handles opened by this transaction: published only after it commits.
    private(set) var openedHandles: [String: MDB_dbi] = [:]
    /// High watermarks moved by this transaction, published to long-polling readers after commit.
    private(set) var appendedHighWatermarks: [TopicPartition: Int64] = [:]
    private(set) var deletedPartitions: [TopicPartition] = []
    /// Counts mutations, so the writer knows whether a failed caller left writes behind.
    private(set) var writeCount = 0
    /// Set when LMDB failed in a way that poisons the whole transaction (map full, ...).
    private(set) var poisoningFailure: LMDBError?

    init(lmdb: LMDBTransaction, core: CoreDatabases, handles: DatabaseHandles, limits: Limits, nowMilliseconds: Int64) {
        self.lmdb = lmdb
        self.core = core
        self.handles = handles
        self.limits = limits
        self.nowMilliseconds = nowMilliseconds
    }

    func database(named name: String) -> MDB_dbi? {
        openedHandles[name] ?? handles.handle(named: name)
    }

    // MARK: Topics

    public func topics() throws(LogStoreError) -> [String] { try topicNames() }

    public func describe(topic: String) throws(LogStoreError) -> TopicDescription? {
        guard let record = try topicRecord(topic) else { return nil }
        return try describeTopic(topic, record)
    }

    /// The topic's partition count, or nil if it does not exist (one lookup, unlike `describe`).
    public func partitionCount(of topic: String) throws(LogStoreError) -> Int? {
        try topicRecord(topic).map { Int($0.partitionCount) }
    }

    /// Creates a topic with `partitions` empty partitions. Throws `.topicAlreadyExists`.
    @discardableResult
    public func createTopic(_ name: String, partitions: Int, configuration: TopicConfiguration = TopicConfiguration()) throws(LogStoreError) -> TopicDescription {
        try TopicName.validate(name)
        guard partitions >= 1, partitions <= 100_000 else {
            throw LogStoreError(.invalidPartitions, "topic \(name): partition count \(partitions) must be between 1 and 100000")
        }
        if try topicRecord(name) != nil {
            throw LogStoreError(.topicAlreadyExists, "topic \(name) already exists")
        }
        try checkPartitionBudget(topic: name, partitions: 0..<Int32(partitions))
        let topicID = try nextCounter(StoreKeys.nextTopicID, initial: 1)
        let record = TopicRecord(topicID: topicID, partitionCount: Int32(partitions),
                                 createdAtMilliseconds: nowMilliseconds, configuration: configuration)
        try recordingWrite { try lmdb.put(core.topics, key: Array(name.utf8), value: record.encoded()) }
        for partition in 0..<Int32(partitions) {
            try putPartitionState(PartitionState(), topicID: topicID, partition: partition)
            _ = try logDatabase(topic: name, partition: partition)
        }
        return try describeTopic(name, record)
    }

    /// Two budgets for new partition logs: partitions may use maximumPartitions logs (the rest of
    /// the named databases stays reserved for application tables), and nothing may pass
    /// maximumDatabases. Logs left by a deleted topic of the same name are reused, not counted.
    private func checkPartitionBudget(topic name: String, partitions: Range<Int32>) throws(LogStoreError) {
        let openedLogs = openedHandles.keys.count { DatabaseHandles.isPartitionLog($0) }
        let availablePartitions = limits.maximumPartitions - handles.partitionLogCount - openedLogs
        let availableDatabases = limits.maximumDatabases - CoreDatabases.count - handles.count - openedHandles.count
        let missing = partitions.filter { database(named: StoreKeys.logDatabaseName(topic: name, partition: $0)) == nil }.count
        guard missing <= availablePartitions else {
            throw LogStoreError(.tooManyPartitions,
                "topic \(name) needs \(missing) more partition logs but only \(max(availablePartitions, 0)) of maximumPartitions=\(limits.maximumPartitions) are left (maximumDatabases=\(limits.maximumDatabases), reservedTableDatabases keeps the rest for application tables)")
        }
        guard missing <= availableDatabases else {
            throw LogStoreError(.tooManyPartitions,
                "topic \(name) needs \(missing) more partition logs but only \(max(availableDatabases, 0)) of maximumDatabases=\(limits.maximumDatabases) are left")
        }
    }

    /// Grows a topic to `count` partitions (Kafka's CreatePartitions: partitions are only ever
    /// added). The new partitions start empty at offset 0. Returns the topic as it now is.
    /// Throws `.unknownTopicOrPartition`, or `.invalidPartitions` when `count` is not larger.
    @discardableResult
    public func addPartitions(topic name: String, count: Int) throws(LogStoreError) -> TopicDescription {
        var record = try requireTopic(name)
        let current = Int(record.partitionCount)
        guard count > current else {
            throw LogStoreError(.invalidPartitions,
                "topic \(name) has \(current) partitions; the new count \(count) must be larger (partitions cannot be removed)")
        }
        guard count <= 100_000 else {
            throw LogStoreError(.invalidPartitions, "topic \(name): partition count \(count) must be at most 100000")
        }
        let added = Int32(current)..<Int32(count)
        try checkPartitionBudget(topic: name, partitions: added)
        record.partitionCount = Int32(count)
        try recordingWrite { try lmdb.put(core.topics, key: Array(name.utf8), value: record.encoded()) }
        for partition in added {
            try putPartitionState(PartitionState(), topicID: record.topicID, partition: partition)
            let log = try logDatabase(topic: name, partition: partition)
            // A log reused from a deleted topic of this name was emptied when it was deleted;
            // emptying it again is free and keeps a new partition from ever showing old batches.
            try recordingWrite { try lmdbCheck(mdb_drop(lmdb.pointer, log, 0), "drop") }
        }
        return try describeTopic(name, record)
    }

    /// Moves the partition's log start offset up to `offset` (Kafka's DeleteRecords; -1 means the
    /// high watermark): whole batches that end before it are removed, a batch that straddles it
    /// stays (its earlier records are below the log start and no longer served). Never moves
    /// the log start back, so an offset already below it changes nothing. Returns the new log
    /// start offset. Throws `.offsetOutOfRange` for an offset past the high watermark.
    @discardableResult
    public func deleteRecords(topic: String, partition: Int32, before offset: Int64) throws(LogStoreError) -> Int64 {
        let record = try requirePartition(topic, partition)
        var state = try partitionState(topicID: record.topicID, partition: partition)
        let target = offset == -1 ? state.nextOffset : offset
        guard target >= 0, target <= state.nextOffset else {
            throw LogStoreError(.offsetOutOfRange,
                "cannot delete records of \(topic)-\(partition) before offset \(offset): its high watermark is \(state.nextOffset)")
        }
        guard target > state.logStartOffset else { return state.logStartOffset }
        if let dbi = database(named: StoreKeys.logDatabaseName(topic: topic, partition: partition)) {
            try recordingWrite {
                try lmdb.withCursor(dbi) { cursor in
                    var entry = try cursor.first()
                    while let current = entry {
                        guard let baseOffset = Int64(bigEndianBytes: current.key),
                              let lastOffsetDelta = Self.storedLastOffsetDelta(current.value) else {
                            throw LogStoreError(.corruptBatch, "\(topic)-\(partition): a stored batch is malformed; run `paynode store verify`")
                        }
                        guard baseOffset + Int64(lastOffsetDelta) < target else { break }
                        state.sizeBytes -= Int64(current.value.count)
                        state.batchCount -= 1
                        try cursor.deleteCurrent()
                        entry = try cursor.first()
                    }
                }
            }
        }
        state.logStartOffset = target
        try putPartitionState(state, topicID: record.topicID, partition: partition)
        try recordingWrite { try TimeIndex.prune(lmdb, core.timeIndex, topicID: record.topicID, partition: partition, logStartOffset: target) }
        return target
    }

    /// Replaces a topic's configuration (retention); the next retention sweep applies it.
    /// Returns the topic as it now is, or nil when it does not exist.
    @discardableResult
    public func alterTopicConfiguration(_ name: String, _ configuration: TopicConfiguration) throws(LogStoreError) -> TopicDescription? {
        guard var record = try topicRecord(name) else { return nil }
        record.configuration = configuration
        try recordingWrite { try lmdb.put(core.topics, key: Array(name.utf8), value: record.encoded()) }
        return try describeTopic(name, record)
    }

    /// Deletes a topic, its batches and the groups' offsets for it. The partitions' log
    /// databases are emptied rather than dropped, so concurrent readers' handles stay valid;
    /// a topic created again with the name reuses them.
    @discardableResult
    public func deleteTopic(_ name: String) throws(LogStoreError) -> Bool {
        guard let record = try topicRecord(name) else { return false }
        for partition in 0..<record.partitionCount {
            if let dbi = database(named: StoreKeys.logDatabaseName(topic: name, partition: partition)) {
                try recordingWrite { try lmdbCheck(mdb_drop(lmdb.pointer, dbi, 0), "drop") }
            }
            let key = StoreKeys.partition(topicID: record.topicID, partition: partition)
            try recordingWrite { _ = try lmdb.delete(core.partitions, key: key) }
            try recordingWrite { try TimeIndex.removeAll(lmdb, core.timeIndex, topicID: record.topicID, partition: partition) }
            deletedPartitions.append(TopicPartition(name, partition))
            appendedHighWatermarks[TopicPartition(name, partition)] = nil
        }
        try recordingWrite { _ = try lmdb.delete(core.topics, key: Array(name.utf8)) }
        try deleteGroupOffsets(topic: name)
        return true
    }

    // MARK: Appends

    /// Appends `records` as one record batch at the partition's end and returns its offsets.
    @discardableResult
    public func append(topic: String, partition: Int32, records: [Record], compression: CompressionCodec = .none) throws(LogStoreError) -> AppendResult {
        guard !records.isEmpty else {
            throw LogStoreError(.invalidArgument, "append to \(topic)-\(partition) with no records")
        }
        let record = try requirePartition(topic, partition)
        let (batch, header) = try BatchPreparation.encode(records, compression: compression, now: nowMilliseconds,
                                                          maximumBytes: limits.maximumBatchBytes, topic: topic, partition: partition)
        return try store(batch: batch, header: header, topic: topic, partition: partition, record: record)
    }

    /// Appends `records` as one batch of the node's own idempotent producer `producer` (from
    /// `allocateProducerId`): the batch carries its id and epoch and the partition's next
    /// sequence for it, taken from the producer state in this transaction, as a Kafka
    /// producer's batch would. So the log tells who wrote the records (`ProducerOwners`) and the
    /// idempotent-producer rules cover them like any other producer's.
    @discardableResult
    public func append(topic: String, partition: Int32, records: [Record], producer: ProducerIdentity) throws(LogStoreError) -> AppendResult {
        let record = try requirePartition(topic, partition)
        let producerKey = StoreKeys.producer(producerId: producer.producerId, topicID: record.topicID, partition: partition)
        let state = try loadProducerState(producerKey)
        var sequence: Int32 = 0
        if let state, state.epoch == producer.epoch, let last = state.batches.last {
            sequence = last.lastSequence == Int32.max ? 0 : last.lastSequence + 1
        }
        let batch: ByteBuffer
        do {
            batch = try RecordBatch.encode(records: records, producerId: producer.producerId, producerEpoch: producer.epoch,
                                           baseSequence: sequence)
        } catch {
            throw LogStoreError(.invalidRecord, "records for \(topic)-\(partition): \(error)")
        }
        switch try appendBatch(topic: topic, partition: partition, batch: batch) {
        case .appended(let result):
            return result
        case .duplicate:
            // The sequence was read in this very transaction: a duplicate means the producer
            // state and the log disagree.
            throw LogStoreError(.storageFailure, "producer \(producer.producerId) on \(topic)-\(partition): sequence \(sequence) was already used")
        }
    }

    /// Appends a batch encoded by `LogStore.append` on the caller's thread.
    func appendEncoded(topic: String, partition: Int32, batch: ByteBuffer, header: RecordBatchHeader) throws(LogStoreError) -> AppendResult {
        let record = try requirePartition(topic, partition)
        return try store(batch: batch, header: header, topic: topic, partition: partition, record: record)
    }

    /// Appends a batch exactly as a Kafka producer sent it (after validating it), applying the
    /// idempotent-producer rules: a duplicate answers the original offsets and writes nothing;
    /// a gap throws `.outOfOrderSequence`; an old epoch throws `.invalidProducerEpoch`.
    public func appendBatch(topic: String, partition: Int32, batch: ByteBuffer) throws(LogStoreError) -> ProduceOutcome {
        let header = try BatchPreparation.validate(batch, maximumBytes: limits.maximumBatchBytes, topic: topic, partition: partition)
        return try appendValidatedBatch(topic: topic, partition: partition, batch: batch, header: header)
    }

    func appendValidatedBatch(topic: String, partition: Int32, batch: ByteBuffer, header: RecordBatchHeader) throws(LogStoreError) -> ProduceOutcome {
        let record = try requirePartition(topic, partition)
        // The topic's max.message.bytes binds what producers send; the node's own appends are
        // bounded by maximumBatchBytes alone, so a low setting cannot stall the node itself.
        let topicLimit = record.configuration.maximumMessageBytes
        if topicLimit >= 0, batch.readableBytes > topicLimit {
            throw LogStoreError(.recordTooLarge,
                "batch of \(batch.readableBytes) bytes for \(topic)-\(partition) is larger than the topic's max.message.bytes \(topicLimit)")
        }
        guard header.hasProducerId else {
            return .appended(try store(batch: batch, header: header, topic: topic, partition: partition, record: record))
        }
        let producerKey = StoreKeys.producer(producerId: header.producerId, topicID: record.topicID, partition: partition)
        let producerState = try loadProducerState(producerKey)
        let decision = ProducerPartitionState.check(producerState, epoch: header.producerEpoch,
                                                    firstSequence: header.baseSequence, lastSequence: header.lastSequence)
        switch decision {
        case .duplicate(let entry):
            let state = try partitionState(topicID: record.topicID, partition: partition)
            return .duplicate(AppendResult(baseOffset: entry.baseOffset, lastOffset: entry.baseOffset + Int64(entry.lastOffsetDelta),
                                           logAppendTimeMilliseconds: entry.appendTimeMilliseconds, logStartOffset: state.logStartOffset))
        case .outOfOrderSequence(let expected, let received):
            throw LogStoreError(.outOfOrderSequence,
                "producer \(header.producerId) epoch \(header.producerEpoch) on \(topic)-\(partition): sequence \(received), expected \(expected)")
        case .invalidEpoch(let current, let received):
            throw LogStoreError(.invalidProducerEpoch,
                "producer \(header.producerId) on \(topic)-\(partition): epoch \(received) is older than \(current)")
        case .append:
            let result = try store(batch: batch, header: header, topic: topic, partition: partition, record: record)
            let entry = ProducerPartitionState.BatchEntry(firstSequence: header.baseSequence, lastSequence: header.lastSequence,
                                                          baseOffset: result.baseOffset, lastOffsetDelta: header.lastOffsetDelta,
                                                          appendTimeMilliseconds: nowMilliseconds)
            let next = ProducerPartitionState.applying(producerState, epoch: header.producerEpoch, entry: entry)
            try recordingWrite { try lmdb.put(core.producers, key: producerKey, value: next.encoded()) }
            return .appended(result)
        }
    }

    private func store(batch: ByteBuffer, header: RecordBatchHeader, topic: String, partition: Int32, record: TopicRecord) throws(LogStoreError) -> AppendResult {
        var state = try partitionState(topicID: record.topicID, partition: partition)
        let baseOffset = state.nextOffset
        let dbi = try logDatabase(topic: topic, partition: partition)
        if handles.needsLogEndCheck(dbi) {
            try checkLogEnds(at: baseOffset, dbi: dbi, state: state, topic: topic, partition: partition)
            handles.markLogEndChecked(dbi)
        }
        let key = baseOffset.bigEndianBytes
        try recordingWrite {
            do {
                try key.withUnsafeBytes { keyBytes in
                    try batch.withUnsafeReadableBytes { batchBytes in
                        try lmdb.putReserved(dbi, key: keyBytes, size: batchBytes.count, flags: MDB_APPEND) { target in
                            target.copyMemory(from: batchBytes)
                            // In the stored copy: the batch itself is often a slice of the request.
                            RecordBatch.setBaseOffset(baseOffset, in: target)
                        }
                    }
                }
            } catch let error as LMDBError where error.code == MDB_KEYEXIST {
                throw LogStoreError(.storageFailure,
                    "\(topic)-\(partition) already holds a batch at or after offset \(baseOffset): partition state and log disagree")
            }
        }
        // Established here: offsets stay dense (the batch takes the next lastOffsetDelta + 1
        // offsets); every caller checked the delta (validation, or the fault-injection path).
        assert(header.lastOffsetDelta >= 0, "a batch reached the log with a negative lastOffsetDelta")
        state.nextOffset = baseOffset + Int64(header.lastOffsetDelta) + 1
        state.sizeBytes += Int64(batch.readableBytes)
        state.batchCount += 1
        try recordingWrite {
            try TimeIndex.record(lmdb, core.timeIndex, topicID: record.topicID, partition: partition,
                                 batchMaxTimestamp: header.maxTimestamp, baseOffset: baseOffset, state: &state)
        }
        try putPartitionState(state, topicID: record.topicID, partition: partition)
        appendedHighWatermarks[TopicPartition(topic, partition)] = state.nextOffset
        return AppendResult(baseOffset: baseOffset, lastOffset: state.nextOffset - 1,
                            logAppendTimeMilliseconds: nowMilliseconds, logStartOffset: state.logStartOffset)
    }

    public func fetch(topic: String, partition: Int32, offset: Int64, maxBytes: Int) throws(LogStoreError) -> FetchResult {
        try fetchBatches(topic: topic, partition: partition, offset: offset, maxBytes: maxBytes)
    }

    // MARK: Consumer-group offsets

    /// Stores the group's next offset to read for a partition of an existing topic; the offset
    /// must lie within -1 (none) and the partition's end (throws `.offsetOutOfRange`).
    public func commitOffset(group: String, topic: String, partition: Int32, offset: Int64,
                             metadata: String? = nil, leaderEpoch: Int32 = -1) throws(LogStoreError) {
        guard !group.isEmpty, group.utf8.count <= Int(UInt16.max) else {
            throw LogStoreError(.invalidArgument, "group id must be 1 to 65535 bytes")
        }
        let topicRecord = try requirePartition(topic, partition)
        // A committed offset is a position in the log: -1 (none) up to the end. Anything else
        // would make the group skip or re-read records and its lag meaningless.
        let end = try partitionState(topicID: topicRecord.topicID, partition: partition).nextOffset
        guard offset >= -1, offset <= end else {
            throw LogStoreError(.offsetOutOfRange,
                "offset \(offset) for \(topic)-\(partition) is outside -1...\(end) (the log's end)")
        }
        let value = CommittedOffset(offset: offset, leaderEpoch: leaderEpoch, metadata: metadata,
                                    commitTimestampMilliseconds: nowMilliseconds)
        let key = StoreKeys.groupOffset(group: group, topic: topic, partition: partition)
        try recordingWrite { try lmdb.put(core.groupOffsets, key: key, value: value.encoded()) }
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

    /// Removes a group's committed offsets (all of them, or one topic's).
    public func deleteCommittedOffsets(group: String, topic: String? = nil) throws(LogStoreError) {
        for (partition, _) in try loadCommittedOffsets(group: group) where topic == nil || partition.topic == topic {
            let key = StoreKeys.groupOffset(group: group, topic: partition.topic, partition: partition.partition)
            try recordingWrite { _ = try lmdb.delete(core.groupOffsets, key: key) }
        }
    }

    /// Removes one committed offset; false when the group had none for the partition.
    @discardableResult
    public func deleteCommittedOffset(group: String, topic: String, partition: Int32) throws(LogStoreError) -> Bool {
        let key = StoreKeys.groupOffset(group: group, topic: topic, partition: partition)
        return try recordingWrite { try lmdb.delete(core.groupOffsets, key: key) }
    }

    private func deleteGroupOffsets(topic: String) throws(LogStoreError) {
        for group in try groupNames() {
            try deleteCommittedOffsets(group: group, topic: topic)
        }
    }

    // MARK: Producers

    /// A producer id never handed out before, with epoch 0.
    public func allocateProducerId() throws(LogStoreError) -> ProducerIdentity {
        let id = try nextCounter(StoreKeys.nextProducerId, initial: 0)
        return ProducerIdentity(producerId: Int64(id), epoch: 0)
    }

    private func loadProducerState(_ key: [UInt8]) throws(LogStoreError) -> ProducerPartitionState? {
        do {
            guard let bytes = try lmdb.get(core.producers, key: key) else { return nil }
            return try ProducerPartitionState(decoding: bytes)
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "reading producer state")
        } catch {
            throw .corruptMetadata("producer state")
        }
    }

    // MARK: Application tables

    /// The application table `name`, created on first use in this transaction.
    public func table(_ name: String) throws(LogStoreError) -> WritableTable {
        guard !name.isEmpty, name.utf8.count <= 200 else {
            throw LogStoreError(.invalidArgument, "table name must be 1 to 200 bytes")
        }
        let dbi = try openDatabase(StoreKeys.applicationTableName(name))
        return WritableTable(name: name, lmdb: lmdb, dbi: dbi, transaction: self)
    }

    // MARK: Internals

    func logDatabase(topic: String, partition: Int32) throws(LogStoreError) -> MDB_dbi {
        try openDatabase(StoreKeys.logDatabaseName(topic: topic, partition: partition))
    }

    private func openDatabase(_ name: String) throws(LogStoreError) -> MDB_dbi {
        if let dbi = database(named: name) { return dbi }
        let dbi: MDB_dbi? = try recordingWrite {
            do {
                return try lmdb.openDatabase(name, create: true)
            } catch let error as LMDBError where error.code == MDB_DBS_FULL {
                throw LogStoreError(.tooManyPartitions,
                    "cannot open \(name): all maximumDatabases=\(limits.maximumDatabases) named databases are in use")
            }
        }
        guard let dbi else { throw LogStoreError(.storageFailure, "cannot create database \(name)") }
        openedHandles[name] = dbi
        return dbi
    }

    /// Relied on by every append: the partition state's next offset is where the log's last
    /// batch ends (or, with no batch left after retention, at least past the last one removed).
    /// A disagreement means a damaged store, refused instead of writing offsets that overlap or
    /// leave a gap. One cursor step; debug builds take it on every append, release builds on the
    /// first append to each partition per process (afterwards every append moves both together
    /// in one transaction, and the per-append cursor cost showed on the writer thread).
    private func checkLogEnds(at nextOffset: Int64, dbi: MDB_dbi, state: PartitionState, topic: String,
                              partition: Int32) throws(LogStoreError) {
        let last: LMDBCursor.Entry?
        do {
            last = try lmdb.withCursor(dbi) { cursor in try cursor.last() }
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "reading the end of \(topic)-\(partition)")
        } catch {
            throw LogStoreError(.storageFailure, "reading the end of \(topic)-\(partition): \(error)")
        }
        guard let last else {
            guard state.batchCount == 0 else {
                throw LogStoreError(.storageFailure, "\(topic)-\(partition): the partition state counts \(state.batchCount) batches but the log holds none")
            }
            return
        }
        let base = Int64(bigEndianBytes: last.key) ?? -1
        let delta = Self.storedLastOffsetDelta(last.value).map(Int64.init) ?? -1
        guard base >= 0, delta >= 0, base + delta + 1 == nextOffset else {
            throw LogStoreError(.storageFailure,
                "\(topic)-\(partition): the last batch (offset \(base), lastOffsetDelta \(delta)) does not end at the partition state's next offset \(nextOffset): partition state and log disagree")
        }
    }

    private func putPartitionState(_ state: PartitionState, topicID: UInt64, partition: Int32) throws(LogStoreError) {
        let key = StoreKeys.partition(topicID: topicID, partition: partition)
        try recordingWrite { try lmdb.put(core.partitions, key: key, value: state.encoded()) }
    }

    private func nextCounter(_ key: [UInt8], initial: UInt64) throws(LogStoreError) -> UInt64 {
        let current: UInt64
        do {
            current = try lmdb.get(core.meta, key: key).flatMap { UInt64(bigEndianBytes: $0) } ?? initial
        } catch let error as LMDBError {
            throw LogStoreError(error, context: "reading counter")
        } catch {
            throw LogStoreError(.storageFailure, "reading counter: \(error)")
        }
        try recordingWrite { try lmdb.put(core.meta, key: key, value: (current + 1).bigEndianBytes) }
        return current
    }

    /// A stored batch's lastOffsetDelta (header bytes 23..<27), or nil when the value is too
    /// short for a header (a damaged store).
    static func storedLastOffsetDelta(_ batch: UnsafeRawBufferPointer) -> Int32? {
        guard batch.count >= RecordBatchHeader.size else { return nil }
        return Int32(bigEndianBytes: UnsafeRawBufferPointer(rebasing: batch[23..<27]))
    }

    /// Runs one mutation, counting it and turning LMDB failures into `LogStoreError`s. A failure
    /// that leaves LMDB's transaction unusable is remembered so the writer aborts and retries.
    func recordingWrite<R>(_ body: () throws -> R) throws(LogStoreError) -> R {
        writeCount += 1
        do {
            return try body()
        } catch let error as LogStoreError {
            throw error
        } catch let error as LMDBError {
            if error.code != MDB_KEYEXIST && error.code != MDB_NOTFOUND && error.code != MDB_BAD_VALSIZE {
                poisoningFailure = error
            }
            throw LogStoreError(error, context: "write")
        } catch {
            throw LogStoreError(.storageFailure, "write: \(error)")
        }
    }

    /// Retention and other maintenance work the writer runs in its own transactions.
    func removeOldestBatches(topic: String, record: TopicRecord, partition: Int32, retentionMilliseconds: Int64,
                             retentionBytes: Int64, budget: Int) throws(LogStoreError) -> Int {
        guard let dbi = database(named: StoreKeys.logDatabaseName(topic: topic, partition: partition)) else { return 0 }
        var state = try partitionState(topicID: record.topicID, partition: partition)
        var removed = 0
        try recordingWrite {
            try lmdb.withCursor(dbi) { cursor in
                var entry = try cursor.first()
                while removed < budget, let current = entry {
                    let size = Int64(current.value.count)
                    let expiredByTime: Bool
                    if retentionMilliseconds >= 0, let maxTimestamp = TimeIndex.batchMaxTimestamp(current.value) {
                        expiredByTime = maxTimestamp < nowMilliseconds - retentionMilliseconds
                    } else {
                        expiredByTime = false
                    }
                    // Like Kafka, size retention keeps at least retention.bytes.
                    let expiredBySize = retentionBytes >= 0 && state.sizeBytes - size >= retentionBytes
                    guard expiredByTime || expiredBySize else { break }
                    // A value too short for a header (a damaged store) must not trap the retention task.
                    let lastOffsetDelta = Self.storedLastOffsetDelta(current.value).map(Int64.init) ?? 0
                    let baseOffset = Int64(bigEndianBytes: current.key) ?? 0
                    try cursor.deleteCurrent()
                    state.sizeBytes -= size
                    state.batchCount -= 1
                    state.logStartOffset = max(state.logStartOffset, baseOffset + lastOffsetDelta + 1)
                    removed += 1
                    entry = try cursor.first()
                }
            }
        }
        if removed > 0 {
            if state.batchCount == 0 { state.logStartOffset = state.nextOffset }
            try putPartitionState(state, topicID: record.topicID, partition: partition)
            let logStart = state.logStartOffset
            try recordingWrite { try TimeIndex.prune(lmdb, core.timeIndex, topicID: record.topicID, partition: partition, logStartOffset: logStart) }
        }
        return removed
    }
}
