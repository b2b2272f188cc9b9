import LogStore
import Protocol

/// What DescribeConfigs answers: the configs paynode honours, with their values, where each
/// comes from, and whether it can change. Pure: built from a topic's stored description and the
/// node's settings. Only what paynode does is described: a config Kafka has but paynode does
/// not implement (segments, compaction, replication beyond one) is either absent or shown with
/// the one value paynode behaves as, read-only.
///
/// A topic's `retention.ms` and `retention.bytes` change at run time (IncrementalAlterConfigs,
/// `apply`); everything else is read-only: the node's settings are its flags.
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
        /// The store's retention for topics without their own (-1: none), `--retention-*`.
        var defaultRetentionMilliseconds: Int64 = -1
        var defaultRetentionBytes: Int64 = -1
        /// The messages `paynode.value.schema` may name.
        var knownSchemas: Set<String> = []
    }

    /// paynode's own topic config: the Protocol Buffers message every record's value must be.
    static let valueSchemaConfig = "paynode.value.schema"

    /// The topic configs that may be altered.
    static let alterableTopicConfigs: Set<String> = ["retention.ms", "retention.bytes", "cleanup.policy", "max.message.bytes", valueSchemaConfig]

    let node: NodeSettings

    /// The topic-level configs, in Kafka's names. A retention the topic does not set is the
    /// store's default (a node flag) when it has one, else none (-1).
    func topicEntries(_ topic: TopicDescription) -> [Entry] {
        func retention(_ name: String, _ own: Int64, _ brokerName: String, _ nodeDefault: Int64, _ documentation: String) -> Entry {
            let inherited: (String, String, Source) = nodeDefault >= 0
                ? (brokerName, String(nodeDefault), .staticBrokerConfig) : (brokerName, "-1", .defaultConfig)
            if own >= 0 {
                return entry(name, String(own), .dynamicTopicConfig, .long, documentation, inherits: inherited, readOnly: false)
            }
            return entry(name, inherited.1, inherited.2, .long, documentation, inherits: inherited, readOnly: false)
        }
        return [
            entry("cleanup.policy", "delete", .defaultConfig, .list,
                  "How old data goes: paynode deletes by retention (compaction is not implemented).", readOnly: false),
            retention("retention.ms", topic.configuration.retentionMilliseconds, "log.retention.ms", node.defaultRetentionMilliseconds,
                      "Batches older than this many milliseconds are removed; -1 keeps them forever (paynode's default)."),
            retention("retention.bytes", topic.configuration.retentionBytes, "log.retention.bytes", node.defaultRetentionBytes,
                      "A partition's oldest batches are removed once it holds more than this many bytes; -1 for no limit."),
            maximumMessageBytes(topic.configuration.maximumMessageBytes),
            entry(Self.valueSchemaConfig, topic.configuration.valueSchema ?? "",
                  topic.configuration.valueSchema == nil ? .defaultConfig : .dynamicTopicConfig, .string,
                  "The Protocol Buffers message every record's value must be (a full name such as paynode.events.v1.PspResultUpdateEvent); empty: any value. Refused records get INVALID_RECORD naming the field.",
                  readOnly: false),
            entry("min.insync.replicas", "1", .defaultConfig, .int, "paynode keeps one replica: an acknowledged write is on this node's disk."),
            entry("compression.type", "producer", .defaultConfig, .string, "Batches are stored as the producer compressed them."),
            entry("message.timestamp.type", "CreateTime", .defaultConfig, .string, "Record timestamps are the producer's."),
        ]
    }

    /// The topic's own limit when it sets one, else the node's (the store's maximum batch size).
    private func maximumMessageBytes(_ own: Int64) -> Entry {
        let inherited = ("message.max.bytes", String(node.maximumBatchBytes), Source.staticBrokerConfig)
        let documentation = "The largest record batch a producer may append to this topic; at most the node's message.max.bytes (the store's maximum batch size)."
        if own >= 0 {
            return entry("max.message.bytes", String(own), .dynamicTopicConfig, .int, documentation, inherits: inherited, readOnly: false)
        }
        return entry("max.message.bytes", inherited.1, inherited.2, .int, documentation, inherits: inherited, readOnly: false)
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
            entry("log.retention.ms", String(node.defaultRetentionMilliseconds),
                  node.defaultRetentionMilliseconds >= 0 ? .staticBrokerConfig : .defaultConfig, .long,
                  "Retention of a topic without its own retention.ms (-1: forever)."),
            entry("log.retention.bytes", String(node.defaultRetentionBytes),
                  node.defaultRetentionBytes >= 0 ? .staticBrokerConfig : .defaultConfig, .long,
                  "Size limit of a topic without its own retention.bytes (-1: none)."),
        ]
    }

    /// Why an alteration was refused: the whole resource is left as it was, as in Kafka.
    struct Refusal: Error, Equatable {
        var code: KafkaErrorCode
        var message: String
    }

    /// `configuration` with IncrementalAlterConfigs' operations applied in order (SET, DELETE back
    /// to the default; APPEND and SUBTRACT only exist for list configs), or why not.
    /// `maximumBatchBytes` bounds `max.message.bytes` (Kafka's message.max.bytes).
    static func apply(_ configs: [IncrementalAlterConfigsRequest.AlterableConfig],
                      to configuration: TopicConfiguration, maximumBatchBytes: Int,
                      knownSchemas: Set<String> = []) -> Result<TopicConfiguration, Refusal> {
        typealias Operation = IncrementalAlterConfigsRequest.Operation
        var altered = configuration
        var seen = Set<String>()
        for config in configs {
            guard seen.insert(config.name).inserted else {
                return .failure(Refusal(code: .invalidRequest, message: "config \(config.name) is named more than once"))
            }
            guard let operation = Operation(rawValue: config.configOperation) else {
                return .failure(Refusal(code: .invalidRequest, message: "unknown config operation \(config.configOperation) for \(config.name)"))
            }
            switch config.name {
            case "retention.ms", "retention.bytes":
                var value: Int64 = -1
                switch operation {
                case .set:
                    guard let text = config.value, let parsed = Int64(text), parsed >= -1 else {
                        return .failure(Refusal(code: .invalidConfig, message: "\(config.name) must be an integer of at least -1, not \(config.value ?? "null")"))
                    }
                    value = parsed
                case .delete:
                    value = -1
                case .append, .subtract:
                    return .failure(Refusal(code: .invalidConfig, message: "\(config.name) is not a list: only SET and DELETE apply"))
                }
                if config.name == "retention.ms" { altered.retentionMilliseconds = value } else { altered.retentionBytes = value }
            case "max.message.bytes":
                switch operation {
                case .set:
                    switch parseMaximumMessageBytes(config.value, maximumBatchBytes: maximumBatchBytes) {
                    case .success(let value): altered.maximumMessageBytes = value
                    case .failure(let refusal): return .failure(refusal)
                    }
                case .delete:
                    altered.maximumMessageBytes = -1
                case .append, .subtract:
                    return .failure(Refusal(code: .invalidConfig, message: "max.message.bytes is not a list: only SET and DELETE apply"))
                }
            case valueSchemaConfig:
                switch operation {
                case .set:
                    switch parseValueSchema(config.value, known: knownSchemas) {
                    case .success(let schema): altered.valueSchema = schema
                    case .failure(let refusal): return .failure(refusal)
                    }
                case .delete:
                    altered.valueSchema = nil
                case .append, .subtract:
                    return .failure(Refusal(code: .invalidConfig, message: "\(valueSchemaConfig) is not a list: only SET and DELETE apply"))
                }
            case "cleanup.policy":
                // Only what paynode does may be asked for: deletion by retention.
                if operation == .delete || (operation != .subtract && config.value == "delete") { continue }
                return .failure(Refusal(code: .invalidConfig, message: "cleanup.policy \(config.value ?? "null") is not supported: paynode deletes by retention and does not compact"))
            case "min.insync.replicas", "compression.type", "message.timestamp.type":
                return .failure(Refusal(code: .invalidConfig, message: "\(config.name) cannot change at run time on paynode"))
            default:
                return .failure(Refusal(code: .invalidConfig, message: "unknown topic config \(config.name)"))
            }
        }
        return .success(altered)
    }

    /// AlterConfigs' whole-set replacement: the alterable configs become exactly those named
    /// (each a SET), every other one goes back to its default. A read-only config named with the
    /// value `current` already shows is accepted unchanged, since tools send back what
    /// DescribeConfigs listed with one value edited; with another value it is refused.
    static func replace(_ configs: [AlterConfigsRequest.Config], current: [Entry], maximumBatchBytes: Int,
                        knownSchemas: Set<String> = []) -> Result<TopicConfiguration, Refusal> {
        var seen = Set<String>()
        var sets: [IncrementalAlterConfigsRequest.AlterableConfig] = []
        for config in configs {
            guard seen.insert(config.name).inserted else {
                return .failure(Refusal(code: .invalidRequest, message: "config \(config.name) is named more than once"))
            }
            let unchangedReadOnly = !alterableTopicConfigs.contains(config.name)
                && current.contains { $0.name == config.name && $0.value == config.value }
            if unchangedReadOnly { continue }
            sets.append(.init(name: config.name, configOperation: IncrementalAlterConfigsRequest.Operation.set.rawValue, value: config.value))
        }
        return apply(sets, to: TopicConfiguration(), maximumBatchBytes: maximumBatchBytes, knownSchemas: knownSchemas)
    }

    /// A `paynode.value.schema` value: a message this node knows; empty means none.
    static func parseValueSchema(_ text: String?, known: Set<String>) -> Result<String?, Refusal> {
        guard let text, !text.isEmpty else { return .success(nil) }
        guard known.contains(text) else {
            return .failure(Refusal(code: .invalidConfig,
                                    message: "\(valueSchemaConfig) \(text) is not a message this node knows (\(known.sorted().joined(separator: ", ")))"))
        }
        return .success(text)
    }

    /// A `max.message.bytes` value: an integer from 0 to the node's maximum batch size.
    static func parseMaximumMessageBytes(_ text: String?, maximumBatchBytes: Int) -> Result<Int64, Refusal> {
        guard let text, let value = Int64(text), value >= 0, value <= Int64(maximumBatchBytes) else {
            return .failure(Refusal(code: .invalidConfig,
                                    message: "max.message.bytes must be an integer from 0 to the node's message.max.bytes \(maximumBatchBytes), not \(text ?? "null")"))
        }
        return .success(value)
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
                       inherits: (name: String, value: String, source: Source)? = nil, readOnly: Bool = true) -> Entry {
        typealias Synonym = DescribeConfigsResponse.Synonym
        let own = Synonym(name: name, value: value, source: source.rawValue)
        var synonyms = [own]
        if let inherits {
            let inherited = Synonym(name: inherits.name, value: inherits.value, source: inherits.source.rawValue)
            synonyms = source == .dynamicTopicConfig ? [own, inherited] : [inherited]
        }
        return Entry(name: name, value: value, readOnly: readOnly, configSource: source.rawValue, isSensitive: false,
                     synonyms: synonyms, configType: type.rawValue, documentation: documentation)
    }
}
