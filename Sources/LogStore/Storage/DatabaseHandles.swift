import CLMDB
import Synchronization

/// The store's own tables, opened once at startup.
struct CoreDatabases: Sendable {
    static let metaName = "meta"
    static let topicsName = "topics"
    static let partitionsName = "partitions"
    static let groupOffsetsName = "group_offsets"
    static let producersName = "producers"
    static let timeIndexName = "time_index"
    static let count = 6

    var meta: MDB_dbi
    var topics: MDB_dbi
    var partitions: MDB_dbi
    var groupOffsets: MDB_dbi
    var producers: MDB_dbi
    var timeIndex: MDB_dbi
}

/// Named-database handles (partition logs and application tables) shared by all transactions.
/// LMDB forbids opening handles from two transactions at once, so only the writer thread opens
/// them, and it publishes a handle here only after the transaction that opened it committed.
final class DatabaseHandles: Sendable {
    private let handles = Mutex<[String: MDB_dbi]>([:])
    /// Partition logs whose end this process has checked against their partition state
    /// (`WriteTransaction.checkLogEnds`): after the first append each append keeps the two in
    /// step itself, so release builds check once per partition and process.
    /// Keyed by handle, not name: a handle stays valid for the process (deleted partitions are
    /// emptied, not dropped), and hashing it costs nothing next to building the name.
    private let checkedLogEnds = Mutex<Set<MDB_dbi>>([])

    func needsLogEndCheck(_ log: MDB_dbi) -> Bool {
        #if DEBUG
        return true
        #else
        return !checkedLogEnds.withLock { $0.contains(log) }
        #endif
    }

    func markLogEndChecked(_ log: MDB_dbi) {
        checkedLogEnds.withLock { _ = $0.insert(log) }
    }

    func handle(named name: String) -> MDB_dbi? {
        handles.withLock { $0[name] }
    }

    func publish(_ opened: [String: MDB_dbi]) {
        guard !opened.isEmpty else { return }
        handles.withLock { $0.merge(opened) { _, new in new } }
    }

    var count: Int { handles.withLock { $0.count } }

    /// Partition logs open (named "log:..."), counted against `maximumPartitions`.
    var partitionLogCount: Int { handles.withLock { $0.keys.count { Self.isPartitionLog($0) } } }

    static func isPartitionLog(_ name: String) -> Bool { name.hasPrefix("log:") }
}
