import CLMDB
import Foundation
import Logging
import NIOCore
import Protocol
import Synchronization

/// A durable, Kafka-shaped log over one LMDB environment: topics with partitions of record
/// batches, consumer-group offsets, idempotent-producer state and application tables, all
/// written through one group-committing writer thread so that any mix of them commits in one
/// transaction and one fsync.
public final class LogStore: Sendable {
    /// The on-disk layout this build writes. Opening a directory written by a newer layout
    /// fails instead of misreading it.
    public static let formatVersion: UInt32 = 1

    public let configuration: LogStoreConfiguration
    private let environment: LMDBEnvironment
    private let core: CoreDatabases
    private let handles: DatabaseHandles
    private let mapGuard: MapGuard
    private let notifier: AppendNotifier
    private let writer: GroupCommitWriter
    private let readTransactionPool = Mutex<[PooledReadTransaction]>([])
    private let state = Mutex(LifecycleState())
    private let logger: Logger
    private let metrics = StoreMetrics()
    private let staleReadersCleared: Int

    private struct LifecycleState {
        var closed = false
        var directoryLock: DataDirectoryLock?
        var retentionTask: Task<Void, Never>?
    }

    /// Opens (creating if needed) the store in `configuration.dataDirectory`.
    public init(configuration: LogStoreConfiguration, logger: Logger = Logger(label: "paynode.logstore")) throws(LogStoreError) {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        let directory = configuration.dataDirectory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw LogStoreError(.storageFailure, "cannot create data directory \(directory): \(error.localizedDescription)")
        }
        let directoryLock = try DataDirectoryLock(directory: directory)
        let existingSize = DiskSpace.fileSize(directory + "/data.mdb") ?? 0
        let mapSize = min(max(configuration.initialMapSize, existingSize), max(configuration.maximumMapSize, existingSize))
        let environment: LMDBEnvironment
        var cleared = 0
        do {
            var noSync = false
            if case .deferredSync = configuration.durability { noSync = true }
            environment = try LMDBEnvironment(path: directory, mapSize: mapSize, maxDatabases: configuration.maximumDatabases,
                                              maxReaders: configuration.maximumReaders, noSync: noSync)
            cleared = try environment.clearStaleReaders()
            if cleared > 0 {
                logger.notice("cleared reader slots of dead processes", metadata: ["slots": "\(cleared)"])
            }
        } catch {
            throw LogStoreError(error, context: "opening \(directory)")
        }
        self.environment = environment
        self.staleReadersCleared = cleared
        self.handles = DatabaseHandles()
        self.core = try Self.openDatabases(environment: environment, handles: handles)
        self.mapGuard = MapGuard()
        self.notifier = AppendNotifier()
        self.writer = GroupCommitWriter(environment: environment, core: core, handles: handles, mapGuard: mapGuard,
                                        notifier: notifier, configuration: configuration, metrics: metrics, logger: logger)
        state.withLock { $0.directoryLock = directoryLock }
        writer.start()
        startRetention()
        logger.info("log store open", metadata: ["dataDirectory": "\(directory)", "mapSize": "\(environment.info.me_mapsize)",
                                                 "durability": "\(configuration.durability)"])
    }

    /// Opens the core tables and every existing partition log and application table, and checks
    /// the format version, in one write transaction before any other thread can use the env.
    private static func openDatabases(environment: LMDBEnvironment, handles: DatabaseHandles) throws(LogStoreError) -> CoreDatabases {
        var pointer: OpaquePointer?
        do {
            try lmdbCheck(mdb_txn_begin(environment.pointer, nil, 0, &pointer), "txn_begin")
            let transaction = LMDBTransaction(pointer: pointer!)
            func open(_ name: String) throws -> MDB_dbi {
                guard let dbi = try transaction.openDatabase(name, create: true) else {
                    throw LogStoreError(.storageFailure, "cannot open table \(name)")
                }
                return dbi
            }
            let core = CoreDatabases(meta: try open(CoreDatabases.metaName), topics: try open(CoreDatabases.topicsName),
                                     partitions: try open(CoreDatabases.partitionsName),
                                     groupOffsets: try open(CoreDatabases.groupOffsetsName),
                                     producers: try open(CoreDatabases.producersName),
                                     timeIndex: try open(CoreDatabases.timeIndexName))
            if let stored = try transaction.get(core.meta, key: StoreKeys.formatVersion) {
                let version = UInt32(bigEndianBytes: stored) ?? .max
                guard version <= formatVersion else {
                    throw LogStoreError(.incompatibleFormat,
                        "data directory \(environment.path) has format \(version); this build reads up to \(formatVersion): upgrade paynode")
                }
            } else {
                try transaction.put(core.meta, key: StoreKeys.formatVersion, value: formatVersion.bigEndianBytes)
            }
            // The unnamed main database lists every named database.
            var opened: [String: MDB_dbi] = [:]
            let names: [String] = try transaction.withCursor(MDB_dbi(1)) { cursor in
                var names: [String] = []
                var entry = try cursor.first()
                while let current = entry {
                    names.append(String(decoding: current.key, as: UTF8.self))
                    entry = try cursor.next()
                }
                return names
            }
            for name in names where name.hasPrefix("log:") || name.hasPrefix("app:") {
                let dbi = try open(name)
                // A deleted topic's logs were only emptied (readers may still hold their
                // handles); nothing else runs yet, so they are dropped for good here and stop
                // counting against maximumPartitions and maximumDatabases.
                if name.hasPrefix("log:"), try !isLiveLog(name, transaction: transaction, topics: core.topics) {
                    try lmdbCheck(mdb_drop(transaction.pointer, dbi, 1), "drop")
                    continue
                }
                opened[name] = dbi
            }
            try lmdbCheck(mdb_txn_commit(pointer), "txn_commit")
            pointer = nil
            handles.publish(opened)
            return core
        } catch {
            if let pointer { mdb_txn_abort(pointer) }
            if let error = error as? LogStoreError { throw error }
            if let error = error as? LMDBError { throw LogStoreError(error, context: "opening tables") }
            throw LogStoreError(.storageFailure, "opening tables: \(error)")
        }
    }

    /// Whether the partition log `name` ("log:<topic>:<partition>") belongs to an existing
    /// topic's partition. An unreadable topic record keeps its logs (verify reports it).
    private static func isLiveLog(_ name: String, transaction: LMDBTransaction, topics: MDB_dbi) throws -> Bool {
        let body = name.dropFirst(4)
        guard let colon = body.lastIndex(of: ":"), let partition = Int32(body[body.index(after: colon)...]) else { return true }
        guard let bytes = try transaction.get(topics, key: Array(body[..<colon].utf8)) else { return false }
        guard let record = try? TopicRecord(decoding: bytes) else { return true }
        return partition >= 0 && partition < record.partitionCount
    }

    deinit {
        close()
    }

    /// Finishes queued writes, stops the writer and closes the environment. Idempotent.
    public func close() {
        let (wasClosed, retention) = state.withLock { state in
            defer { state.closed = true }
            return (state.closed, state.retentionTask)
        }
        guard !wasClosed else { return }
        retention?.cancel()
        writer.shutdown()
        mapGuard.withExclusiveAccess {
            for transaction in readTransactionPool.withLock({ pool in defer { pool.removeAll() }; return pool }) {
                mdb_txn_abort(transaction.pointer)
            }
            environment.close()
        }
        state.withLock { $0.directoryLock = nil }
        logger.info("log store closed", metadata: ["dataDirectory": "\(configuration.dataDirectory)"])
    }

    public var isClosed: Bool { state.withLock { $0.closed } }

    // MARK: Transactions

    /// Runs `body` in the next group commit and returns once its work is durable. If `body`
    /// throws, none of its writes happen and the error is rethrown; other callers' work in the
    /// same group is unaffected. `body` runs on the writer thread and may run more than once.
    public func write<T: Sendable>(estimatedBytes: Int = 0, _ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T {
        let box = ResultBox<T>()
        return try await withCheckedThrowingContinuation { continuation in
            let job = WriteJob(estimatedBytes: estimatedBytes, run: { transaction in
                box.value = try body(transaction)
            }, complete: { result in
                switch result {
                case .success:
                    // Taken out of the box, so the box (freed on the writer thread) holds nothing.
                    let value = box.value!
                    box.value = nil
                    continuation.resume(returning: value)
                case .failure(let error):
                    continuation.resume(throwing: error)
                }
            })
            writer.submit(job)
        }
    }

    /// Runs `body` against a consistent snapshot of the whole store.
    public func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        try mapGuard.withSharedAccess {
            guard !isClosed else { throw LogStoreError(.storeClosed, "the store is closed") }
            let pointer = try acquireReadTransaction()
            defer { releaseReadTransaction(pointer) }
            return try body(ReadTransaction(lmdb: LMDBTransaction(pointer: pointer), core: core, handles: handles))
        }
    }

    private func acquireReadTransaction() throws(LogStoreError) -> OpaquePointer {
        if let pooled = readTransactionPool.withLock({ $0.popLast() }) {
            if mdb_txn_renew(pooled.pointer) == 0 { return pooled.pointer }
            mdb_txn_abort(pooled.pointer)
        }
        var pointer: OpaquePointer?
        let code = mdb_txn_begin(environment.pointer, nil, UInt32(MDB_RDONLY), &pointer)
        guard code == 0, let pointer else {
            throw LogStoreError(LMDBError(code: code, operation: "txn_begin(read)"), context: "starting a read")
        }
        return pointer
    }

    private func releaseReadTransaction(_ pointer: OpaquePointer) {
        mdb_txn_reset(pointer)
        let pooled = readTransactionPool.withLock { pool -> Bool in
            guard pool.count < 64 else { return false }
            pool.append(PooledReadTransaction(pointer: pointer))
            return true
        }
        if !pooled { mdb_txn_abort(pointer) }
    }

    // MARK: Conveniences over single transactions

    @discardableResult
    public func createTopic(_ name: String, partitions: Int, configuration: TopicConfiguration = TopicConfiguration()) async throws -> TopicDescription {
        try await write { try $0.createTopic(name, partitions: partitions, configuration: configuration) }
    }

    /// Partition logs in use and the most the store allows (`maximumPartitions`).
    public var partitionCapacity: (used: Int, maximum: Int) {
        (handles.partitionLogCount, configuration.maximumPartitions)
    }

    /// The data directory's filesystem: its size and what is free for this process, or nil when
    /// it cannot be measured.
    public var diskSpace: (totalBytes: Int, availableBytes: Int)? {
        DiskSpace.measure(directory: configuration.dataDirectory).map { ($0.totalBytes, $0.availableBytes) }
    }

    public func topics() throws -> [String] { try read { try $0.topics() } }

    public func describe(topic: String) throws -> TopicDescription? { try read { try $0.describe(topic: topic) } }

    /// Appends `records` as one batch. Encoding and checksumming happen here, on the caller's
    /// task, so concurrent producers do not serialise that work on the writer thread.
    @discardableResult
    public func append(topic: String, partition: Int32, records: [Record], compression: CompressionCodec = .none) async throws -> AppendResult {
        let (batch, header) = try BatchPreparation.encode(records, compression: compression, now: currentTimeMilliseconds(),
                                                          maximumBytes: configuration.maximumBatchBytes, topic: topic, partition: partition)
        return try await write(estimatedBytes: batch.readableBytes) {
            try $0.appendEncoded(topic: topic, partition: partition, batch: batch, header: header)
        }
    }

    /// Appends a producer's batch with Kafka's validation (done here, on the caller's task) and
    /// idempotent-producer rules (on the writer, against the committed producer state).
    public func appendBatch(topic: String, partition: Int32, batch: ByteBuffer) async throws -> ProduceOutcome {
        let header = try BatchPreparation.validate(batch, maximumBytes: configuration.maximumBatchBytes, topic: topic, partition: partition)
        return try await write(estimatedBytes: batch.readableBytes) {
            try $0.appendValidatedBatch(topic: topic, partition: partition, batch: batch, header: header)
        }
    }

    public func commitOffset(group: String, topic: String, partition: Int32, offset: Int64, metadata: String? = nil) async throws {
        try await write { try $0.commitOffset(group: group, topic: topic, partition: partition, offset: offset, metadata: metadata) }
    }

    public func committedOffset(group: String, topic: String, partition: Int32) throws -> CommittedOffset? {
        try read { try $0.committedOffset(group: group, topic: topic, partition: partition) }
    }

    public func allocateProducerId() async throws -> ProducerIdentity {
        try await write { try $0.allocateProducerId() }
    }

    /// Reads whole batches from `offset`. With `maxWait` > 0 it long-polls: it returns as soon
    /// as at least `minBytes` are available, or at the deadline with whatever there is.
    public func fetch(topic: String, partition: Int32, offset: Int64, maxBytes: Int = 1 << 20,
                      minBytes: Int = 1, maxWait: Duration = .zero) async throws -> FetchResult {
        let deadline = ContinuousClock.now + maxWait
        let partitionKey = TopicPartition(topic, partition)
        while true {
            let result = try read { try $0.fetch(topic: topic, partition: partition, offset: offset, maxBytes: maxBytes) }
            if result.records.readableBytes >= max(minBytes, 1) || ContinuousClock.now >= deadline || Task.isCancelled
                || notifier.isInterrupted {
                return result
            }
            await notifier.waitForAppend(after: [partitionKey: result.highWatermark], until: deadline)
        }
    }

    /// Waits until any of the partitions' high watermarks passes the given one, or the deadline.
    /// The broker's multi-partition Fetch uses it.
    public func waitForAppend(after highWatermarks: [TopicPartition: Int64], until deadline: ContinuousClock.Instant) async {
        await notifier.waitForAppend(after: highWatermarks, until: deadline)
    }

    /// Ends every long poll now and makes later ones return at once: a node shutting down
    /// answers waiting fetches instead of holding them to their deadline.
    public func interruptWaits() {
        notifier.interruptAll()
    }

    // MARK: Retention

    /// Removes batches past each topic's retention (age or bytes), advancing log start offsets.
    /// Runs in bounded transactions; returns how many batches it removed.
    @discardableResult
    public func applyRetention() async throws -> Int {
        let topics: [(String, TopicRecord)] = try read { transaction in
            try transaction.topics().compactMap { name in try transaction.topicRecord(name).map { (name, $0) } }
        }
        var removed = 0
        let budget = configuration.retentionBatchesPerCommit
        for (name, record) in topics {
            let retentionMilliseconds = record.configuration.retentionMilliseconds >= 0
                ? record.configuration.retentionMilliseconds : configuration.defaultRetentionMilliseconds
            let retentionBytes = record.configuration.retentionBytes >= 0
                ? record.configuration.retentionBytes : configuration.defaultRetentionBytes
            guard retentionMilliseconds >= 0 || retentionBytes >= 0 else { continue }
            for partition in 0..<record.partitionCount {
                while true {
                    let count = try await write { transaction -> Int in
                        // The topic may have been deleted or recreated since the listing.
                        guard let current = try transaction.topicRecord(name), current.topicID == record.topicID else { return 0 }
                        return try transaction.removeOldestBatches(topic: name, record: current, partition: partition,
                                                                   retentionMilliseconds: retentionMilliseconds,
                                                                   retentionBytes: retentionBytes, budget: budget)
                    }
                    removed += count
                    if count < budget { break }
                }
            }
        }
        metrics.recordRetention(removedBatches: removed)
        return removed
    }

    private func startRetention() {
        let interval = configuration.retentionCheckIntervalMilliseconds
        guard interval > 0 else { return }
        let task = Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(interval))
                guard let self, !Task.isCancelled else { return }
                do {
                    let cleared = try self.clearStaleReaders()
                    if cleared > 0 { self.logger.notice("cleared reader slots of dead processes", metadata: ["slots": "\(cleared)"]) }
                    let removed = try await self.applyRetention()
                    if removed > 0 { self.logger.info("retention removed batches", metadata: ["batches": "\(removed)"]) }
                } catch {
                    self.logger.warning("retention pass failed", metadata: ["error": "\(error)"])
                }
            }
        }
        state.withLock { $0.retentionTask = task }
    }

    // MARK: Operations

    public struct Statistics: Sendable {
        public var mapSizeBytes: Int
        public var fileSizeBytes: Int
        public var usedPages: Int
        public var pageSize: Int
        public var readerSlotsInUse: Int
        /// Durable write transactions since the store was opened.
        public var commits: Int
        /// Reader slots of dead processes cleared when the store was opened.
        public var staleReadersCleared: Int
    }

    public func statistics() throws -> Statistics {
        try mapGuard.withSharedAccess {
            guard !isClosed else { throw LogStoreError(.storeClosed, "the store is closed") }
            let info = environment.info
            return Statistics(mapSizeBytes: info.me_mapsize,
                              fileSizeBytes: DiskSpace.fileSize(configuration.dataDirectory + "/data.mdb") ?? 0,
                              usedPages: Int(info.me_last_pgno) + 1, pageSize: environment.pageSize,
                              readerSlotsInUse: Int(info.me_numreaders),
                              commits: writer.commitCount.load(ordering: .relaxed), staleReadersCleared: staleReadersCleared)
        }
    }

    /// Clears reader slots of processes that died holding a read transaction (a killed backup
    /// or inspection tool): their stale snapshots would stop freed pages from being reused.
    /// Done at open and after every retention pass; returns how many slots were cleared.
    @discardableResult
    public func clearStaleReaders() throws -> Int {
        try mapGuard.withSharedAccess {
            guard !isClosed else { throw LogStoreError(.storeClosed, "the store is closed") }
            do {
                return try environment.clearStaleReaders()
            } catch let error as LMDBError {
                throw LogStoreError(error, context: "clearing stale readers")
            }
        }
    }

    /// A consistent hot copy of the store into `directory` (which must exist and be empty),
    /// compacted if asked; writes go on meanwhile.
    public func backup(to directory: String, compact: Bool = true) throws {
        try mapGuard.withSharedAccess {
            guard !isClosed else { throw LogStoreError(.storeClosed, "the store is closed") }
            do {
                try environment.copy(to: directory, compact: compact)
            } catch let error as LMDBError {
                throw LogStoreError(error, context: "backup to \(directory)")
            }
        }
    }
}

/// Carries a write closure's result from the writer thread to the resumed caller. Written once
/// per attempt on the writer thread, read after completion: the continuation orders the two.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

/// A reset read transaction kept for reuse (mdb_txn_renew is much cheaper than begin). Reset
/// transactions hold no snapshot, and with MDB_NOTLS any thread may renew them.
private struct PooledReadTransaction: @unchecked Sendable {
    let pointer: OpaquePointer
}
