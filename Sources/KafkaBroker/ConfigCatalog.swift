import LogStore
import Protocol

/// What DescribeConfigs answers: the configs paynode honours, with their values, where each
/// comes from, and whether it can change. Pure: built from a topic's stored description and the
/// node's settings. Only what paynode does is described: a config Kafka has but paynode does
/// not implement (segments, compaction, replication beyond one) is either absent or shown with
/// the one value paynode behaves as, read-only.
///
/// Every entry is read-only until AlterConfigs / IncrementalAlterConfigs land: a topic's
/// retention is fixed at creation (CreateTopics configs or `paynode topics create`).
struct ConfigCatalog {
    typealias Entry = DescribeConfigsResponse.Entry
    typealias Source = DescribeConfigsResponse.ConfigSource
    typealias ConfigType = DescribeConfigsResponse.ConfigType

    /// `ConfigResource.Type` codes.
    static let topicResource: Int8 = 2
    static let brokerResource: Int8 = 4

    struct NodeSettings: Sendable {
        var nodeId: Int32
        var defaultPartitions: Int
        var autoCreateTopics: Bool
        var maximumBatchBytes: Int
        var maximumFetchBytes: Int
    }

    let node: NodeSettings

    /// The topic-level configs, in Kafka's names.
    func topicEntries(_ topic: TopicDescription) -> [Entry] {
        let retentionMs = topic.configuration.retentionMilliseconds
        let retentionBytes = topic.configuration.retentionBytes
        return [
            entry("cleanup.policy", "delete", .defaultConfig, .list,
                  "How old data goes: paynode deletes by retention (compaction is not implemented)."),
            entry("retention.ms", String(retentionMs), retentionMs == -1 ? .defaultConfig : .dynamicTopicConfig, .long,
                  "Batches older than this many milliseconds are removed; -1 keeps them forever (paynode's default).",
                  inherits: ("log.retention.ms", "-1", .defaultConfig)),
            entry("retention.bytes", String(retentionBytes), retentionBytes == -1 ? .defaultConfig : .dynamicTopicConfig, .long,
                  "A partition's oldest batches are removed once it holds more than this many bytes; -1 for no limit.",
                  inherits: ("log.retention.bytes", "-1", .defaultConfig)),
            entry("max.message.bytes", String(node.maximumBatchBytes), .staticBrokerConfig, .int,
                  "The largest record batch the node accepts (the store's maximum batch size).",
                  inherits: ("message.max.bytes", String(node.maximumBatchBytes), .staticBrokerConfig)),
            entry("min.insync.replicas", "1", .defaultConfig, .int, "paynode keeps one replica: an acknowledged write is on this node's disk."),
            entry("compression.type", "producer", .defaultConfig, .string, "Batches are stored as the producer compressed them."),
            entry("message.timestamp.type", "CreateTime", .defaultConfig, .string, "Record timestamps are the producer's."),
        ]
    }

    /// The node's own configs (resource name: its node id, or empty for the defaults).
    func brokerEntries() -> [Entry] {
        [
            entry("broker.id", String(node.nodeId), .staticBrokerConfig, .int, "This node's id in Metadata answers."),
            entry("num.partitions", String(node.defaultPartitions), .staticBrokerConfig, .int,
                  "Partitions of a topic created without a count."),
            entry("auto.create.topics.enable", node.autoCreateTopics ? "true" : "false", .staticBrokerConfig, .boolean,
                  "Whether Metadata for an unknown topic creates it."),
            entry("message.max.bytes", String(node.maximumBatchBytes), .staticBrokerConfig, .int,
                  "The largest record batch the node accepts."),
            entry("fetch.max.bytes", String(node.maximumFetchBytes), .staticBrokerConfig, .int,
                  "The most bytes one Fetch answer carries."),
            entry("default.replication.factor", "1", .defaultConfig, .int, "paynode keeps one replica."),
            entry("log.retention.ms", "-1", .defaultConfig, .long, "Retention of a topic created without retention.ms: forever."),
            entry("log.retention.bytes", "-1", .defaultConfig, .long, "Size limit of a topic created without retention.bytes: none."),
        ]
    }

    /// `entries` filtered to `keys` (nil: all; an unknown key is left out, as Kafka does), with
    /// synonyms and documentation only when asked (and only for the versions that carry them).
    static func select(_ entries: [Entry], keys: [String]?, synonyms: Bool, documentation: Bool) -> [Entry] {
        var selected = entries
        if let keys {
            let wanted = Set(keys)
            selected = entries.filter { wanted.contains($0.name) }
        }
        return selected.map { entry in
            var entry = entry
            if !synonyms { entry.synonyms = [] }
            if !documentation { entry.documentation = nil }
            return entry
        }
    }

    /// Synonyms as Kafka lists them: a value set on the topic first, then the broker-level
    /// config it would otherwise come from; a value not set on the topic has that one only.
    private func entry(_ name: String, _ value: String, _ source: Source, _ type: ConfigType, _ documentation: String,
                       inherits: (name: String, value: String, source: Source)? = nil) -> Entry {
        typealias Synonym = DescribeConfigsResponse.Synonym
        let own = Synonym(name: name, value: value, source: source.rawValue)
        var synonyms = [own]
        if let inherits {
            let inherited = Synonym(name: inherits.name, value: inherits.value, source: inherits.source.rawValue)
            synonyms = source == .dynamicTopicConfig ? [own, inherited] : [inherited]
        }
        return Entry(name: name, value: value, readOnly: true, configSource: source.rawValue, isSensitive: false,
                     synonyms: synonyms, configType: type.rawValue, documentation: documentation)
    }
}
