import Metrics

/// The store's metrics, named after Prometheus conventions. They cost nothing until a node
/// bootstraps a metrics backend (swift-prometheus).
struct StoreMetrics: Sendable {
    private let commitSeconds = Timer(label: "paynode_store_commit_seconds", preferredDisplayUnit: .seconds)
    private let groupSeconds = Timer(label: "paynode_store_group_commit_seconds", preferredDisplayUnit: .seconds)
    private let callersPerCommit = Recorder(label: "paynode_store_commit_callers")
    private let commits = Counter(label: "paynode_store_commits_total")
    private let outOfSpace = Counter(label: "paynode_store_out_of_space_total")
    /// Writes refused because the group-commit queue was full (`maximumQueuedWrites` /
    /// `maximumQueuedWriteBytes`): the caller got the retriable `.overloaded`.
    private let overloaded = Counter(label: "paynode_store_write_queue_rejections_total")
    private let retentionRemovedBatches = Counter(label: "paynode_store_retention_removed_batches_total")

    /// `duration`: the commit itself (page writes and fsync); `total`: the whole group.
    func recordCommit(callers: Int, duration: Duration, total: Duration) {
        commits.increment()
        callersPerCommit.record(callers)
        commitSeconds.recordNanoseconds(duration.nanoseconds)
        groupSeconds.recordNanoseconds(total.nanoseconds)
    }

    func recordOutOfSpace() { outOfSpace.increment() }

    func recordOverload() { overloaded.increment() }

    func recordRetention(removedBatches: Int) {
        if removedBatches > 0 { retentionRemovedBatches.increment(by: removedBatches) }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
