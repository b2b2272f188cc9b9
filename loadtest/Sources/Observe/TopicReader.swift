import KafkaClient
import Protocol

/// Reads topics over paynode's Kafka client: a whole topic up to its current end (for the
/// checker), or the end offsets to tail from.
struct TopicReader: Sendable {
    let client: KafkaClient

    /// The next offset to be written, per partition.
    func endOffsets(of topic: String) async throws -> [KafkaTopicPartition: Int64] {
        let latest = try await client.listOffsets(topic: topic, spec: .latest)
        return Dictionary(uniqueKeysWithValues: latest.map { (KafkaTopicPartition(topic, $0.key), $0.value.offset) })
    }

    /// Every record of `topic` from each partition's log start to its end as of now, handed to
    /// `visit` with its partition.
    func readAll(_ topic: String, visit: (KafkaTopicPartition, Record) throws -> Void) async throws {
        let ends = try await endOffsets(of: topic)
        let starts = try await client.listOffsets(topic: topic, spec: .earliest)
        var positions: [KafkaTopicPartition: Int64] = [:]
        for (partition, end) in ends {
            let start = starts[partition.partition]?.offset ?? 0
            if start < end { positions[partition] = start }
        }
        while !positions.isEmpty {
            let results = try await client.fetch(positions, maxBytesPerPartition: 8 << 20, maxBytes: 32 << 20)
            for (partition, result) in results {
                guard let position = positions[partition], let end = ends[partition] else { continue }
                for record in result.records where record.offset < end { try visit(partition, record) }
                let next = result.nextOffset(after: position)
                if next >= end || result.records.isEmpty {
                    positions[partition] = nil
                } else {
                    positions[partition] = next
                }
            }
        }
    }
}
