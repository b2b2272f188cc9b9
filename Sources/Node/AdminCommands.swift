import ArgumentParser
import Foundation
import KafkaClient
import Logging
import Protocol

// Admin commands that talk to a running broker over the Kafka protocol (unlike `paynode store`,
// which opens a stopped node's data directory): `topics`, `groups` and `consume`.

/// `--bootstrap-servers`, falling back to `PAYNODE_BOOTSTRAP_SERVERS`, then 127.0.0.1:9092.
struct BootstrapOptions: ParsableArguments {
    @Option(name: .customLong("bootstrap-servers"), help: "Broker HOST:PORT[,HOST:PORT...] (env: PAYNODE_BOOTSTRAP_SERVERS; default 127.0.0.1:9092).")
    var bootstrapServers: String?

    @OptionGroup var security: KafkaClientSecurityOptions

    /// The connection settings the flags ask for: TLS and SASL when the protocol uses them.
    func connection() throws -> KafkaConnection.Configuration {
        var connection = KafkaConnection.Configuration()
        try security.apply(to: &connection)
        return connection
    }

    /// A client that never creates topics by looking at them. Admin commands give up after a
    /// few reconnects and log to stderr at warning; nodes (the executor) keep reconnecting.
    func client(reconnectAttempts: Int = 3, logger: Logger? = nil) throws -> KafkaClient {
        let value = EnvironmentOption.string(bootstrapServers, "PAYNODE_BOOTSTRAP_SERVERS") ?? "127.0.0.1:9092"
        guard let servers = KafkaBrokerAddress.list(value) else {
            throw ValidationError("bootstrap servers '\(value)' are not HOST:PORT[,HOST:PORT...]")
        }
        var adminLogger = Logger(label: "paynode.admin") { StreamLogHandler.standardError(label: $0) }
        adminLogger.logLevel = .warning
        return KafkaClient(configuration: KafkaClientConfiguration(bootstrapServers: servers, connection: try connection(),
                                                                   reconnectAttempts: reconnectAttempts, allowAutoTopicCreation: false),
                           logger: logger ?? adminLogger)
    }

}

/// Runs `body` with a client and always shuts the client down.
private func withAdminClient<T>(_ options: BootstrapOptions, _ body: (KafkaClient) async throws -> T) async throws -> T {
    let client = try options.client()
    do {
        let result = try await body(client)
        await client.shutdown()
        return result
    } catch {
        await client.shutdown()
        throw error
    }
}

/// The partitions of an existing topic, or an error saying it does not exist.
private func existingPartitions(of topic: String, client: KafkaClient) async throws -> [Int32] {
    let metadata = try await client.metadata(topics: [topic], allowAutoTopicCreation: false)
    guard let found = metadata.topics[topic] else {
        let code = metadata.topicErrors[topic] ?? KafkaErrorCode.unknownTopicOrPartition.rawValue
        throw KafkaClientError.broker(code, "the topic does not exist", broker: await client.brokerName, topic: topic)
    }
    return found.partitions.map(\.partition)
}

struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "List, describe and create topics on a running broker.",
        subcommands: [List.self, Describe.self, Create.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per topic: name and partition count.")
        @OptionGroup var bootstrap: BootstrapOptions

        func run() async throws {
            let metadata = try await withAdminClient(bootstrap) { try await $0.metadata(topics: nil) }
            for topic in metadata.topics.values.sorted(by: { $0.name < $1.name }) {
                print("\(topic.name)  partitions=\(topic.partitionCount)")
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A topic's partitions with leader, log start and high watermark.")
        @OptionGroup var bootstrap: BootstrapOptions
        @Argument(help: "Topic name.") var topic: String

        func run() async throws {
            let topic = self.topic
            let (metadata, earliest, latest) = try await withAdminClient(bootstrap) { client in
                _ = try await existingPartitions(of: topic, client: client)
                let metadata = try await client.metadata(topics: [topic])
                let earliest = try await client.listOffsets(topic: topic, spec: .earliest)
                let latest = try await client.listOffsets(topic: topic, spec: .latest)
                return (metadata, earliest, latest)
            }
            let partitions = metadata.topics[topic]?.partitions ?? []
            print("\(topic)  partitions=\(partitions.count)")
            for partition in partitions {
                let start = earliest[partition.partition]?.offset ?? -1
                let end = latest[partition.partition]?.offset ?? -1
                print("  \(partition.partition)  leader=\(partition.leader)  log-start=\(start)  high-watermark=\(end)  records=\(max(0, end - start))")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a topic.")
        @OptionGroup var bootstrap: BootstrapOptions
        @Argument(help: "Topic name (letters, digits, '.', '_', '-').") var topic: String
        @Option(help: "Number of partitions (default: the broker's).") var partitions: Int32?
        @Option(name: .customLong("retention-ms"), help: "Delete batches older than this (-1: keep).") var retentionMilliseconds: Int64?
        @Option(name: .customLong("retention-bytes"), help: "Keep about this many bytes per partition (-1: no limit).") var retentionBytes: Int64?
        @Option(name: .customLong("schema"), help: "Require every record's value to be this Protocol Buffers message, e.g. paynode.events.v1.PspResultUpdateEvent (topic config paynode.value.schema); others are refused at produce with INVALID_RECORD.") var schema: String?

        func validate() throws {
            if let partitions, partitions < 1 { throw ValidationError("--partitions must be at least 1") }
        }

        func run() async throws {
            var configs: [String: String] = [:]
            if let retentionMilliseconds { configs["retention.ms"] = "\(retentionMilliseconds)" }
            if let retentionBytes { configs["retention.bytes"] = "\(retentionBytes)" }
            if let schema { configs["paynode.value.schema"] = schema }
            let topic = self.topic
            let count = try await withAdminClient(bootstrap) { client in
                try await client.createTopic(topic, partitions: partitions ?? -1, configs: configs)
                return try await client.partitionCount(for: topic)
            }
            print("created topic \(topic) with \(count) partitions")
        }
    }
}

struct GroupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups",
        abstract: "Inspect consumer groups on a running broker.",
        subcommands: [List.self, Describe.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every group with its state and member count.")
        @OptionGroup var bootstrap: BootstrapOptions

        func run() async throws {
            let groups = try await withAdminClient(bootstrap) { client -> [DescribeGroupsResponse.DescribedGroup] in
                let listed = try await client.request(ListGroupsRequest())
                guard let error = KafkaErrorCode(rawValue: listed.errorCode), error == .none else {
                    throw ValidationError("ListGroups failed with error \(listed.errorCode)")
                }
                let ids = listed.groups.map(\.groupId).sorted()
                guard !ids.isEmpty else { return [] }
                return try await client.request(DescribeGroupsRequest(groups: ids)).groups
            }
            for group in groups {
                print("\(group.groupId)  state=\(group.groupState)  protocol=\(group.protocolData.isEmpty ? "-" : group.protocolData)  members=\(group.members.count)")
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "State, members and their assignments, then committed offset, high watermark and lag (high watermark - committed) per partition.")
        @OptionGroup var bootstrap: BootstrapOptions
        @Argument(help: "Group id.") var group: String
        @Option(name: .customLong("topic"), help: "A topic to report (repeatable; default: every topic the group committed to or is assigned).")
        var topics: [String] = []

        func run() async throws {
            let group = self.group
            let topics = self.topics
            let (described, rows) = try await withAdminClient(bootstrap) { client in
                let described = try await client.request(DescribeGroupsRequest(groups: [group])).groups.first
                var owners: [KafkaTopicPartition: String] = [:]
                for member in described?.members ?? [] {
                    for assigned in Self.assignment(of: member) {
                        for partition in assigned.partitions { owners[KafkaTopicPartition(assigned.topic, partition)] = member.memberId }
                    }
                }
                var partitions: [KafkaTopicPartition] = []
                let committed: [KafkaTopicPartition: KafkaOffsetAndMetadata]
                if topics.isEmpty {
                    committed = try await client.fetchOffsets(group: group)
                    partitions = Set(committed.keys).union(owners.keys).sorted()
                } else {
                    for topic in topics {
                        partitions += try await existingPartitions(of: topic, client: client).map { KafkaTopicPartition(topic, $0) }
                    }
                    committed = try await client.fetchOffsets(group: group, topics: topics)
                }
                let latest = partitions.isEmpty ? [:] : try await client.listOffsets(partitions, spec: .latest)
                return (described, partitions.map { ($0, committed[$0], latest[$0]?.offset ?? -1, owners[$0]) })
            }
            print("group \(group)  state=\(described?.groupState ?? "Dead")  protocol=\(described?.protocolData.isEmpty == false ? described!.protocolData : "-")")
            for member in described?.members ?? [] {
                let assigned = Self.assignment(of: member).map { "\($0.topic):\($0.partitions.map(String.init).joined(separator: ","))" }
                print("  member \(member.memberId)  client=\(member.clientId)  host=\(member.clientHost)  assigned=\(assigned.isEmpty ? "-" : assigned.joined(separator: " "))")
            }
            for (partition, committed, highWatermark, owner) in rows {
                let offset = committed.map { "\($0.offset)" } ?? "-"
                let lag = committed.map { "\(consumerLag(endOffset: highWatermark, committedOffset: $0.offset))" } ?? "-"
                let metadata = committed?.metadata.flatMap { $0.isEmpty ? nil : "  metadata=\($0)" } ?? ""
                print("  \(partition.topic)  \(partition.partition)  committed=\(offset)  high-watermark=\(highWatermark)  lag=\(lag)  owner=\(owner ?? "-")\(metadata)")
            }
        }

        /// The member's assignment in the consumer protocol; empty before its first SyncGroup.
        static func assignment(of member: DescribeGroupsResponse.DescribedGroupMember) -> [ConsumerProtocolTopicPartitions] {
            guard member.memberAssignment.readableBytes > 0 else { return [] }
            var bytes = member.memberAssignment
            return (try? ConsumerProtocolAssignment.decode(from: &bytes))?.assignedPartitions ?? []
        }
    }
}

/// `paynode consume TOPIC`: prints records as `partition<TAB>offset<TAB>key<TAB>value<TAB>headers`
/// (headers as `k=v,k=v`; null keys, values and header values print empty).
struct ConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Print a topic's records: partition, offset, key, value and headers, tab-separated.")

    @OptionGroup var bootstrap: BootstrapOptions
    @Argument(help: "Topic name.") var topic: String
    @Flag(name: .customLong("from-beginning"), help: "Start at the log start (default: the end, or the group's committed offset).")
    var fromBeginning = false
    @Option(help: "Read only this partition.") var partition: Int32?
    @Option(help: "Stop after this many records (and at the end of the log).") var max: Int?
    @Option(help: "Start from this group's committed offsets and commit progress to it.") var group: String?
    @Flag(name: .customLong("exit-at-end"), help: "Stop once every partition is read to its high watermark.")
    var exitAtEnd = false
    @Option(name: .customLong("max-wait-ms"), help: "How long one fetch waits for new records.") var maxWaitMilliseconds = 500

    func validate() throws {
        if let max, max < 1 { throw ValidationError("--max must be at least 1") }
        if maxWaitMilliseconds < 0 { throw ValidationError("--max-wait-ms must not be negative") }
    }

    func run() async throws {
        try await withAdminClient(bootstrap) { client in try await consume(client) }
    }

    private func consume(_ client: KafkaClient) async throws {
        let all = try await existingPartitions(of: topic, client: client)
        let partitions: [KafkaTopicPartition]
        if let partition {
            guard all.contains(partition) else {
                throw KafkaClientError(.invalidArgument, "the topic has \(all.count) partitions", topic: topic, partition: partition)
            }
            partitions = [KafkaTopicPartition(topic, partition)]
        } else {
            partitions = all.map { KafkaTopicPartition(topic, $0) }
        }
        let earliest = try await client.listOffsets(partitions, spec: .earliest)
        var highWatermarks = try await client.listOffsets(partitions, spec: .latest).mapValues(\.offset)
        var committed: [KafkaTopicPartition: KafkaOffsetAndMetadata] = [:]
        if let group { committed = try await client.fetchOffsets(group: group, topics: [topic]) }
        var positions: [KafkaTopicPartition: Int64] = [:]
        for partition in partitions {
            let start = earliest[partition]?.offset ?? 0
            let end = highWatermarks[partition] ?? 0
            let wanted = committed[partition]?.offset ?? (fromBeginning ? start : end)
            positions[partition] = Swift.min(Swift.max(wanted, start), end)
        }
        let stopAtEnd = exitAtEnd || max != nil
        var printed = 0
        var lastCommitted = committed.mapValues { (value: KafkaOffsetAndMetadata) in value.offset }

        func commit() async throws {
            guard let group else { return }
            let changed = positions.filter { lastCommitted[$0.key] != $0.value }
            guard !changed.isEmpty else { return }
            try await client.commitOffsets(group: group, changed.mapValues { KafkaOffsetAndMetadata(offset: $0, metadata: "paynode-consume") })
            for (partition, offset) in changed { lastCommitted[partition] = offset }
        }

        while true {
            let active = positions.filter { !stopAtEnd || $0.value < highWatermarks[$0.key] ?? 0 }
            if active.isEmpty { break }
            let results = try await client.fetch(active, maxWait: .milliseconds(maxWaitMilliseconds))
            var done = false
            for partition in results.keys.sorted() {
                let result = results[partition]!
                highWatermarks[partition] = result.highWatermark
                for record in result.records {
                    print(Self.line(partition: partition.partition, record))
                    positions[partition] = record.offset + 1
                    printed += 1
                    if let max, printed >= max {
                        done = true
                        break
                    }
                }
                if done { break }
                if let bad = result.undecodable {
                    // Shown and stepped over, as a consumer dead-letters it: the rest is readable.
                    FileHandle.standardError.write(Data("partition \(partition.partition) offsets \(bad.firstOffset)...\(bad.lastOffset) undecodable: \(bad.reason)\n".utf8))
                    positions[partition] = bad.lastOffset + 1
                }
            }
            fflushStandardOutput()
            try await commit()
            if done { break }
        }
        fflushStandardOutput()
    }

    static func line(partition: Int32, _ record: Record) -> String {
        func text(_ bytes: [UInt8]?) -> String { bytes.map { String(decoding: $0, as: UTF8.self) } ?? "" }
        let headers = record.headers.map { "\($0.key)=\(text($0.value))" }.joined(separator: ",")
        return "\(partition)\t\(record.offset)\t\(text(record.key))\t\(text(record.value))\t\(headers)"
    }
}
