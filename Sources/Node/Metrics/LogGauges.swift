import LogStore
import Prometheus
import Protocol
import Synchronization

/// Gauges read from the store when Prometheus scrapes: every partition's log start and end
/// offsets and size, and every consumer group's committed offset and lag, including the groups
/// of external Kafka clients (their offsets live in the same store). Reading at scrape time
/// keeps the hot paths free of gauge updates and can never report a stale lag.
final class LogGauges: Sendable {
    private let store: LogStore
    private let registry: PrometheusCollectorRegistry
    /// The gauges set by the previous scrape, by name and labels, so vanished ones are removed.
    private let previous = Mutex<[GaugeKey: Gauge]>([:])

    struct GaugeKey: Hashable {
        var name: String
        var labels: [String]
    }

    init(store: LogStore, registry: PrometheusCollectorRegistry) {
        self.store = store
        self.registry = registry
    }

    /// One consistent snapshot (a single read transaction) of offsets and lag.
    func refresh() throws {
        var values: [(GaugeKey, Double)] = []
        func set(_ name: String, _ labels: [(String, String)], _ value: some BinaryInteger) {
            values.append((GaugeKey(name: name, labels: labels.flatMap { [$0.0, $0.1] }), Double(value)))
        }
        try store.read { transaction in
            var endOffsets: [TopicPartition: Int64] = [:]
            for topic in try transaction.topics() {
                guard let description = try transaction.describe(topic: topic) else { continue }
                for partition in description.partitions {
                    let labels = [("topic", topic), ("partition", "\(partition.partition)")]
                    set("paynode_log_start_offset", labels, partition.logStartOffset)
                    set("paynode_log_end_offset", labels, partition.highWatermark)
                    set("paynode_log_size_bytes", labels, partition.sizeBytes)
                    endOffsets[TopicPartition(topic, partition.partition)] = partition.highWatermark
                }
            }
            for group in try transaction.groups() {
                for (topicPartition, committed) in try transaction.committedOffsets(group: group) {
                    let labels = [("group", group), ("topic", topicPartition.topic), ("partition", "\(topicPartition.partition)")]
                    set("paynode_consumergroup_committed_offset", labels, committed.offset)
                    if let end = endOffsets[topicPartition] {
                        set("paynode_consumergroup_lag", labels, consumerLag(endOffset: end, committedOffset: committed.offset))
                    }
                }
            }
        }
        let statistics = try store.statistics()
        set("paynode_store_map_size_bytes", [], statistics.mapSizeBytes)
        set("paynode_store_file_size_bytes", [], statistics.fileSizeBytes)
        set("paynode_store_used_bytes", [], statistics.usedPages * statistics.pageSize)
        set("paynode_store_reader_slots_in_use", [], statistics.readerSlotsInUse)
        apply(values)
    }

    private func apply(_ values: [(GaugeKey, Double)]) {
        previous.withLock { previous in
            var current: [GaugeKey: Gauge] = [:]
            for (key, value) in values {
                let gauge = previous[key] ?? registry.makeGauge(
                    descriptor: MetricNameDescriptor(metricName: key.name, unitName: "", helpText: Self.help[key.name] ?? ""),
                    labels: stride(from: 0, to: key.labels.count, by: 2).map { (key.labels[$0], key.labels[$0 + 1]) })
                gauge.set(value)
                current[key] = gauge
            }
            for (key, gauge) in previous where current[key] == nil {
                registry.unregisterGauge(gauge)
            }
            previous = current
        }
    }

    static let help: [String: String] = [
        "paynode_log_start_offset": "First offset still in the partition's log (after retention).",
        "paynode_log_end_offset": "The partition's high watermark: the offset the next record gets.",
        "paynode_log_size_bytes": "Bytes of record batches in the partition's log.",
        "paynode_consumergroup_committed_offset": "The group's committed offset for the partition.",
        "paynode_consumergroup_lag": "Records between the group's committed offset and the partition's high watermark.",
        "paynode_store_map_size_bytes": "Current size of the LMDB memory map.",
        "paynode_store_file_size_bytes": "Size of the LMDB data file.",
        "paynode_store_used_bytes": "Bytes of the data file in use (last page number times page size).",
        "paynode_store_reader_slots_in_use": "LMDB reader slots in use.",
    ]
}
