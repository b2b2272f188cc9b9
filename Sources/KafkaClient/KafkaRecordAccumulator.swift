import NIOCore
import Protocol

/// The producer's batching, as pure state: records wait per partition until their partition
/// may send (at most one batch in flight per partition, which keeps sequence numbers and
/// order simple) and the batch is full or its oldest record has lingered long enough (or a
/// flush is asked for). A drained batch takes records in order up to the record and byte
/// limits; a single record larger than the byte limit still goes, alone.
struct KafkaRecordAccumulator<Token> {
    struct Limits: Sendable, Hashable {
        var maxRecords: Int
        var maxBytes: Int
        var linger: Duration
    }

    struct Batch {
        var partition: KafkaTopicPartition
        var records: [Record]
        var tokens: [Token]
    }

    private struct Pending {
        var record: Record
        var size: Int
        var token: Token
        var enqueuedAt: ContinuousClock.Instant
    }

    private struct Queue {
        var pending = CircularBuffer<Pending>()
        var bytes = 0

        var count: Int { pending.count }
        var oldest: Pending? { pending.first }

        mutating func take(maxRecords: Int, maxBytes: Int) -> [Pending] {
            var taken: [Pending] = []
            var size = RecordBatchHeader.size
            while let next = pending.first, taken.count < maxRecords {
                if !taken.isEmpty, size + next.size > maxBytes { break }
                taken.append(pending.removeFirst())
                size += next.size
                bytes -= next.size
            }
            return taken
        }
    }

    let limits: Limits
    private var queues: [KafkaTopicPartition: Queue] = [:]
    private var busy: Set<KafkaTopicPartition> = []
    private(set) var pendingCount = 0

    init(limits: Limits) {
        precondition(limits.maxRecords >= 1 && limits.maxBytes >= 1, "batch limits must be positive")
        self.limits = limits
    }

    /// No records waiting and no batch in flight.
    var isIdle: Bool { pendingCount == 0 && busy.isEmpty }

    func isBusy(_ partition: KafkaTopicPartition) -> Bool { busy.contains(partition) }

    mutating func append(_ record: Record, token: Token, to partition: KafkaTopicPartition, now: ContinuousClock.Instant) {
        let size = Self.estimatedSize(of: record)
        queues[partition, default: Queue()].pending.append(Pending(record: record, size: size, token: token, enqueuedAt: now))
        queues[partition]!.bytes += size
        pendingCount += 1
    }

    /// The batches that may be sent now; their partitions become busy until `complete`.
    mutating func drain(now: ContinuousClock.Instant, flush: Bool) -> [Batch] {
        var batches: [Batch] = []
        for partition in queues.keys.sorted() where !busy.contains(partition) {
            guard let oldest = queues[partition]?.oldest, let queue = queues[partition] else { continue }
            let full = queue.count >= limits.maxRecords || queue.bytes + RecordBatchHeader.size >= limits.maxBytes
            guard flush || full || now >= oldest.enqueuedAt + limits.linger else { continue }
            let taken = queues[partition]!.take(maxRecords: limits.maxRecords, maxBytes: limits.maxBytes)
            if queues[partition]!.count == 0 { queues[partition] = nil }
            pendingCount -= taken.count
            busy.insert(partition)
            batches.append(Batch(partition: partition, records: taken.map(\.record), tokens: taken.map(\.token)))
        }
        return batches
    }

    /// When the next waiting partition becomes ready by lingering (nil: none is waiting on time).
    func nextLingerDeadline() -> ContinuousClock.Instant? {
        queues.compactMap { partition, queue in
            busy.contains(partition) ? nil : queue.oldest.map { $0.enqueuedAt + limits.linger }
        }.min()
    }

    /// The partition's batch is done (sent, or given up): its next batch may go.
    mutating func complete(_ partition: KafkaTopicPartition) {
        busy.remove(partition)
    }

    /// Removes every waiting record (for shutdown or a fatal producer error).
    mutating func removeAllPending() -> [Token] {
        var tokens: [Token] = []
        for partition in queues.keys.sorted() {
            let queue = queues[partition]!
            tokens.append(contentsOf: queue.pending.map(\.token))
        }
        queues.removeAll()
        pendingCount = 0
        return tokens
    }

    /// An upper-bound estimate of a record's encoded size (varint lengths at 5 bytes each).
    static func estimatedSize(of record: Record) -> Int {
        var size = 5 + 1 + 10 + 5 + 5 + (record.key?.count ?? 0) + 5 + (record.value?.count ?? 0) + 5
        for header in record.headers { size += 5 + header.key.utf8.count + 5 + (header.value?.count ?? 0) }
        return size
    }
}
