import ArgumentParser
import Foundation
import LogStore
import Protocol

/// The main job until the payment pipeline lands: concurrent producers append to a topic
/// through group commit, then a consumer group reads everything back and, in one transaction
/// per batch, updates an application table and commits its offsets, so a rerun resumes exactly
/// where the last one stopped.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Push records through the durable log and a consumer group, and print a summary."
    )

    @OptionGroup var options: DataDirectoryOptions
    @Option(help: "Records to produce.") var records = 100_000
    @Option(help: "Concurrent producers.") var producers = 8
    @Option(name: .customLong("batch"), help: "Records per append.") var recordsPerAppend = 100

    static let topic = "demo-events"
    static let group = "demo-consumer"
    static let partitions: Int32 = 3

    func validate() throws {
        guard records > 0, producers > 0, recordsPerAppend > 0 else {
            throw ValidationError("--records, --producers and --batch must be positive")
        }
    }

    func run() async throws {
        let store = try options.openStore()
        defer { store.close() }
        if try store.describe(topic: Self.topic) == nil {
            try await store.createTopic(Self.topic, partitions: Int(Self.partitions))
        }
        let commitsBefore = try store.statistics().commits
        let clock = ContinuousClock()

        // Produce: every producer appends batches; concurrent appends share commits.
        let produceStart = clock.now
        let perProducer = (records + producers - 1) / producers
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                group.addTask {
                    var sent = 0
                    let quota = min(perProducer, records - producer * perProducer)
                    while sent < quota {
                        let count = min(recordsPerAppend, quota - sent)
                        let batch = (0..<count).map { index in
                            Record(timestamp: -1, key: Array("order-\(producer)-\(sent + index)".utf8),
                                   value: Array("{\"producer\":\(producer),\"n\":\(sent + index)}".utf8))
                        }
                        try await store.append(topic: Self.topic, partition: Int32((producer + sent / count) % Int(Self.partitions)), records: batch)
                        sent += count
                    }
                }
            }
            try await group.waitForAll()
        }
        let produceTime = clock.now - produceStart
        let commits = try store.statistics().commits - commitsBefore

        // Consume: resume from the committed offsets; state and offsets commit together.
        let consumeStart = clock.now
        var consumed = 0
        for partition in 0..<Self.partitions {
            var offset = try store.committedOffset(group: Self.group, topic: Self.topic, partition: partition)?.offset ?? 0
            while true {
                let fetched = try await store.fetch(topic: Self.topic, partition: partition, offset: offset, maxBytes: 4 << 20)
                guard !fetched.isEmpty else { break }
                let (batches, _) = try RecordBatch.split(fetched.records)
                let decoded = try batches.flatMap { try RecordBatch.decodeRecords($0) }.filter { $0.offset >= offset }
                guard let last = decoded.last else { break }
                let nextOffset = last.offset + 1
                let count = decoded.count
                try await store.write { transaction in
                    let totals = try transaction.table("demo.totals")
                    let key = Array("partition-\(partition)".utf8)
                    let previous = try totals.get(key).map { UInt64(String(decoding: $0, as: UTF8.self)) ?? 0 } ?? 0
                    try totals.put(key, Array(String(previous + UInt64(count)).utf8))
                    try transaction.commitOffset(group: Self.group, topic: Self.topic, partition: partition,
                                                 offset: nextOffset, metadata: "demo")
                }
                consumed += count
                offset = nextOffset
            }
        }
        let consumeTime = clock.now - consumeStart

        let topic = try store.describe(topic: Self.topic)!
        let offsets = try store.read { try $0.committedOffsets(group: Self.group) }
        let lag = topic.partitions.reduce(Int64(0)) { $0 + $1.highWatermark - (offsets[TopicPartition(Self.topic, $1.partition)]?.offset ?? 0) }
        print("""
        paynode demo (data directory \(options.resolvedDataDirectory), every commit fsynced)
          produced   \(records) records from \(producers) producers in \(format(produceTime)): \(rate(records, produceTime)) records/s, \(commits) commits (\(String(format: "%.1f", Double(records / recordsPerAppend) / Double(max(commits, 1)))) appends per commit)
          consumed   \(consumed) records as group \(Self.group) in \(format(consumeTime)): \(rate(consumed, consumeTime)) records/s
          partitions \(topic.partitions.map { "\($0.partition): high-watermark \($0.highWatermark)" }.joined(separator: ", "))
          group lag  \(lag)
        """)
    }

    private func format(_ duration: Duration) -> String {
        String(format: "%.2f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    private func rate(_ count: Int, _ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(Int(Double(count) / max(seconds, 1e-9)))
    }
}
