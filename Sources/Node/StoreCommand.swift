import ArgumentParser
import Foundation
import LogStore
import NIOCore
import PaymentService
import Protocol

/// Offline operations on a data directory (the node must be stopped: the directory is locked
/// while a node runs).
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Inspect and maintain a data directory offline: topics, groups, verify, backup, append-raw (fault injection).",
        subcommands: [Topics.self, CreateTopic.self, Groups.self, Verify.self, Backup.self, AppendRaw.self]
    )

    struct Topics: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List topics with each partition's offsets and size.")
        @OptionGroup var options: DataDirectoryOptions

        func run() async throws {
            let store = try options.openStore()
            defer { store.close() }
            for name in try store.topics() {
                guard let topic = try store.describe(topic: name) else { continue }
                print("\(name)  partitions=\(topic.partitionCount)  retention.ms=\(topic.configuration.retentionMilliseconds)  retention.bytes=\(topic.configuration.retentionBytes)")
                for partition in topic.partitions {
                    print("  \(partition.partition)  log-start=\(partition.logStartOffset)  high-watermark=\(partition.highWatermark)  batches=\(partition.batchCount)  bytes=\(partition.sizeBytes)")
                }
            }
        }
    }

    struct CreateTopic: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-topic", abstract: "Create a topic.")
        @OptionGroup var options: DataDirectoryOptions
        @Argument(help: "Topic name (letters, digits, '.', '_', '-').") var name: String
        @Option(help: "Number of partitions.") var partitions = 3
        @Option(name: .customLong("retention-ms"), help: "Delete batches older than this (-1: keep).") var retentionMilliseconds: Int64 = -1
        @Option(name: .customLong("retention-bytes"), help: "Keep about this many bytes per partition (-1: no limit).") var retentionBytes: Int64 = -1

        func run() async throws {
            let store = try options.openStore()
            defer { store.close() }
            do {
                let topic = try await store.createTopic(name, partitions: partitions, configuration: TopicConfiguration(
                    retentionMilliseconds: retentionMilliseconds, retentionBytes: retentionBytes))
                print("created \(topic.name) with \(topic.partitionCount) partitions")
            } catch let error as LogStoreError {
                throw ValidationError(error.message)
            }
        }
    }

    struct Groups: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show consumer groups' committed offsets and lag.")
        @OptionGroup var options: DataDirectoryOptions
        @Argument(help: "Only this group.") var group: String?

        func run() async throws {
            let store = try options.openStore()
            defer { store.close() }
            try store.read { transaction in
                for name in try transaction.groups() where group == nil || group == name {
                    print(name)
                    let offsets = try transaction.committedOffsets(group: name)
                    for (partition, committed) in offsets.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
                        let highWatermark = try transaction.describe(topic: partition.topic)?.partitions[Int(partition.partition)].highWatermark ?? committed.offset
                        print("  \(partition)  committed=\(committed.offset)  high-watermark=\(highWatermark)  lag=\(consumerLag(endOffset: highWatermark, committedOffset: committed.offset))  metadata=\(committed.metadata ?? "")")
                    }
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "CRC-check every stored batch and the payment indexes; exits 1 naming each corrupt batch or inconsistency.",
            discussion: """
                A batch whose bytes are intact but whose records do not decode (written by an older \
                release, or placed with append-raw) is listed as UNDECODABLE without failing: the \
                store holds what was written, and the consumers dead-letter it.
                """)
        @OptionGroup var options: DataDirectoryOptions

        func run() async throws {
            let store = try options.openStore()
            defer { store.close() }
            var batches = 0
            var corrupt = 0
            var undecodable = 0
            for name in try store.topics() {
                guard let topic = try store.describe(topic: name) else { continue }
                for partition in topic.partitions {
                    var offset = partition.logStartOffset
                    while offset < partition.highWatermark {
                        do {
                            let result = try store.read { try $0.fetch(topic: name, partition: partition.partition, offset: offset, maxBytes: 1) }
                            let header = try RecordBatch.peekHeader(result.records)
                            batches += 1
                            offset = header.lastOffset + 1
                            do {
                                _ = try RecordBatch.decodeRecords(result.records)
                            } catch {
                                print("UNDECODABLE \(name)-\(partition.partition) batch at offset \(header.baseOffset): \(error)")
                                undecodable += 1
                            }
                        } catch let error as RecordBatchError {
                            print("UNDECODABLE \(name)-\(partition.partition) at offset \(offset): \(error)")
                            undecodable += 1
                            batches += 1
                            offset = try nextBatchOffset(store, name, partition.partition, after: offset) ?? partition.highWatermark
                        } catch let error as LogStoreError where error.code == .corruptBatch {
                            print("CORRUPT \(error.message)")
                            corrupt += 1
                            offset = try nextBatchOffset(store, name, partition.partition, after: offset) ?? partition.highWatermark
                        }
                    }
                }
            }
            print("checked \(batches + corrupt) batches: \(corrupt) corrupt, \(undecodable) undecodable")
            let indexes = try PaymentIndexVerifier.verify(store)
            for problem in indexes.problems { print("INCONSISTENT \(problem)") }
            if indexes.problemCount > indexes.problems.count {
                print("... and \(indexes.problemCount - indexes.problems.count) more")
            }
            print("checked \(indexes.orders) orders against \(indexes.indexEntries) status index entries and the status counts: \(indexes.problemCount) problems")
            if corrupt > 0 || !indexes.isConsistent { throw ExitCode(1) }
        }

        /// The base offset of the batch after the corrupt one, found without reading it.
        private func nextBatchOffset(_ store: LogStore, _ topic: String, _ partition: Int32, after offset: Int64) throws -> Int64? {
            var probe = offset + 1
            let end = try store.describe(topic: topic)?.partitions[Int(partition)].highWatermark ?? probe
            while probe < end {
                if let result = try? store.read({ try $0.fetch(topic: topic, partition: partition, offset: probe, maxBytes: 1) }),
                   let header = try? RecordBatch.peekHeader(result.records), header.baseOffset > offset {
                    return header.baseOffset
                }
                probe += 1
            }
            return nil
        }
    }

    /// Fault injection: puts bytes into a log that the broker would refuse, so tests and drills
    /// can show every consumer isolating what an older release, a flipped bit or a bug could leave.
    struct AppendRaw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "append-raw",
            abstract: "FAULT INJECTION: append one record batch file to a partition unvalidated (node stopped).",
            discussion: """
                The file holds one Kafka record batch v2. Only what the store needs for its own \
                bookkeeping is checked (the 61-byte header, lastOffsetDelta, the batch size limit); \
                CRC, magic, counts, records and codec are stored as they are. Never use it on a \
                production store: consumers will dead-letter what it appends.
                """)
        @OptionGroup var options: DataDirectoryOptions
        @Option(help: "Topic to append to (must exist).") var topic: String
        @Option(help: "Partition to append to.") var partition: Int32
        @Argument(help: "File holding the raw batch bytes.") var file: String

        func run() async throws {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
                  let size = attributes[.size] as? Int else {
                throw ValidationError("cannot read \(file)")
            }
            guard size <= 1 << 30 else { throw ValidationError("\(file) is \(size) bytes; a batch is at most 1 GiB") }
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            let store = try options.openStore()
            defer { store.close() }
            var batch = ByteBufferAllocator().buffer(capacity: data.count)
            batch.writeBytes(data)
            do {
                let result = try await store.appendUnvalidatedForFaultInjection(topic: topic, partition: partition, batch: batch)
                print("appended \(data.count) raw bytes to \(topic)-\(partition) at offsets \(result.baseOffset)...\(result.lastOffset)")
            } catch let error as LogStoreError {
                throw ValidationError(error.message)
            }
        }
    }

    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a consistent, compacted copy of the store to an empty directory.")
        @OptionGroup var options: DataDirectoryOptions
        @Option(name: .customLong("to"), help: "Destination directory (created; must be empty).") var destination: String

        func run() async throws {
            let store = try options.openStore()
            defer { store.close() }
            try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
            guard try FileManager.default.contentsOfDirectory(atPath: destination).isEmpty else {
                throw ValidationError("backup destination \(destination) is not empty")
            }
            try store.backup(to: destination, compact: true)
            print("backup written to \(destination)")
        }
    }
}
