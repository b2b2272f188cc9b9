/// How a `LogStore` opens its data directory. Every limit is explicit; defaults suit a
/// production node, and `validate()` names the first setting that makes no sense.
public struct LogStoreConfiguration: Sendable {
    public enum Durability: Sendable, Hashable {
        /// Every commit is fsynced before any caller resumes. The default.
        case fsyncEveryCommit
        /// Development only: commits reach the OS page cache (so a killed process loses
        /// nothing) and are fsynced every `interval`; a machine crash or power loss may lose the
        /// commits of the last interval.
        case deferredSync(intervalMilliseconds: Int)
    }

    /// The directory holding `data.mdb`, `lock.mdb` and `paynode.lock`. Created if missing.
    public var dataDirectory: String
    public var durability: Durability = .fsyncEveryCommit
    /// The map starts at this size and grows on demand (sparse: it costs no disk until used).
    public var initialMapSize: Int = 256 << 20
    /// The map never grows past this; reaching it makes appends fail with `.outOfSpace`.
    public var maximumMapSize: Int = 1 << 40
    /// Growth step once the map is above 1 GiB (below that it doubles).
    public var mapGrowthStep: Int = 1 << 30
    /// Space kept free on the filesystem: the map does not grow into it.
    public var reservedDiskBytes: Int = 64 << 20
    /// Upper bound of topic partitions plus application tables (LMDB named databases).
    public var maximumDatabases: Int = 4096
    /// Named databases partitions may never take: they stay free for application tables, so
    /// a client creating topics cannot leave the node's own tables (orders, outbox, groups...)
    /// unable to open. Partitions get at most `maximumPartitions`.
    public var reservedTableDatabases: Int = 96
    /// An operator's lower partition budget (nil: all that the databases allow).
    public var partitionLimit: Int?
    /// How many partition logs the store holds at most: what is left of `maximumDatabases`
    /// after the core tables and `reservedTableDatabases`, or `partitionLimit` if lower.
    public var maximumPartitions: Int {
        min(partitionLimit ?? .max, maximumDatabases - CoreDatabases.count - reservedTableDatabases)
    }
    /// Concurrent read transactions (LMDB reader slots).
    public var maximumReaders: Int = 510
    /// A single batch larger than this is refused with `.recordTooLarge`.
    public var maximumBatchBytes: Int = 16 << 20
    /// Group commit: callers and bytes gathered into one transaction at most.
    public var maximumCallersPerCommit: Int = 10_000
    public var maximumBytesPerCommit: Int = 64 << 20
    /// Writes waiting for the writer thread at most, by count and by their estimated bytes;
    /// one more is refused at once with the retriable `.overloaded` instead of queueing without
    /// bound while the disk falls behind (a write larger than the byte bound is still taken
    /// when nothing else waits).
    public var maximumQueuedWrites: Int = 100_000
    public var maximumQueuedWriteBytes: Int = 1 << 30
    /// Defaults for topics created without their own retention settings (-1: keep forever).
    public var defaultRetentionMilliseconds: Int64 = -1
    public var defaultRetentionBytes: Int64 = -1
    /// How often the background retention pass runs (0 disables it; `applyRetention()` still works).
    public var retentionCheckIntervalMilliseconds: Int = 60_000
    /// At most this many batches are deleted per retention transaction, so a large backlog
    /// never makes one huge commit that stalls appends.
    public var retentionBatchesPerCommit: Int = 5_000

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    public func validate() throws(LogStoreError) {
        func invalid(_ message: String) -> LogStoreError { LogStoreError(.invalidConfiguration, message) }
        if dataDirectory.isEmpty { throw invalid("dataDirectory is empty") }
        if initialMapSize < 1 << 20 { throw invalid("initialMapSize \(initialMapSize) is below 1 MiB") }
        if maximumMapSize < initialMapSize {
            throw invalid("maximumMapSize \(maximumMapSize) is below initialMapSize \(initialMapSize)")
        }
        if mapGrowthStep < 1 << 20 { throw invalid("mapGrowthStep \(mapGrowthStep) is below 1 MiB") }
        if reservedDiskBytes < 0 { throw invalid("reservedDiskBytes is negative") }
        if maximumDatabases < 16 { throw invalid("maximumDatabases \(maximumDatabases) is below 16") }
        if reservedTableDatabases < 0 { throw invalid("reservedTableDatabases is negative") }
        if let partitionLimit, partitionLimit < 1 { throw invalid("partitionLimit \(partitionLimit) is below 1") }
        if maximumPartitions < 1 {
            throw invalid("reservedTableDatabases \(reservedTableDatabases) leaves no partitions of maximumDatabases \(maximumDatabases)")
        }
        if maximumReaders < 8 { throw invalid("maximumReaders \(maximumReaders) is below 8") }
        if maximumBatchBytes < 1024 { throw invalid("maximumBatchBytes \(maximumBatchBytes) is below 1 KiB") }
        if maximumCallersPerCommit < 1 { throw invalid("maximumCallersPerCommit must be at least 1") }
        if maximumBytesPerCommit < maximumBatchBytes {
            throw invalid("maximumBytesPerCommit \(maximumBytesPerCommit) is below maximumBatchBytes \(maximumBatchBytes)")
        }
        if maximumQueuedWrites < maximumCallersPerCommit {
            throw invalid("maximumQueuedWrites \(maximumQueuedWrites) is below maximumCallersPerCommit \(maximumCallersPerCommit)")
        }
        if maximumQueuedWriteBytes < maximumBatchBytes {
            throw invalid("maximumQueuedWriteBytes \(maximumQueuedWriteBytes) is below maximumBatchBytes \(maximumBatchBytes)")
        }
        if retentionCheckIntervalMilliseconds < 0 { throw invalid("retentionCheckIntervalMilliseconds is negative") }
        if retentionBatchesPerCommit < 1 { throw invalid("retentionBatchesPerCommit must be at least 1") }
        if case .deferredSync(let interval) = durability, interval < 1 {
            throw invalid("deferredSync interval \(interval) ms must be at least 1")
        }
    }
}
