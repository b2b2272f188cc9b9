import KafkaClient
import LogStore
import Metrics
import NIOCore
import Payments
import Protocol

/// What the executor does with what it cannot read: `payment-orders` batches or records that do
/// not decode become dead letters on `payment-orders.dlq` (the executor's own dead-letter topic:
/// `psp-result-updates.dlq` has one writer, the service), produced and acknowledged BEFORE the journal moves the position past
/// them, so nothing is skipped without a durable dead letter (a crash between the two repeats
/// the dead letter: at least once, told apart by its source offsets). Journal entries that do
/// not decode are moved to a quarantine table, counted and logged, instead of being dropped.
enum ExecutorPoison {
    static let quarantineTable = "executor.attempts_quarantine"
    /// Dead letters of one produce request stay far below the broker's batch limit.
    static let bytesPerDeadLetterBatch = 4 << 20

    static let deadLettersMetric = "paynode_executor_dead_letters_total"
    static let quarantinedMetric = "paynode_executor_journal_quarantined_total"

    /// The dead letter of a whole undecodable batch, covering its offsets.
    static func deadLetter(_ batch: KafkaUndecodableBatch, partition: Int32, limit: Int) -> Record {
        let bytes = batch.bytes.getBytes(at: batch.bytes.readerIndex, length: batch.bytes.readableBytes) ?? []
        let letter = DeadLetter(key: nil, value: bytes, originalHeaders: [], reason: batch.reason,
                                source: .init(topic: PaymentTopics.paymentOrders, partition: partition,
                                              firstOffset: batch.firstOffset, lastOffset: batch.lastOffset),
                                limit: limit)
        return record(letter)
    }

    /// The dead letter of one record whose order event does not decode.
    static func deadLetter(_ record: Record, reason: String, partition: Int32, limit: Int) -> Record {
        let letter = DeadLetter(key: record.key, value: record.value,
                                originalHeaders: record.headers.map { DeadLetter.Header(key: $0.key, value: $0.value) },
                                reason: reason,
                                source: .init(topic: PaymentTopics.paymentOrders, partition: partition,
                                              firstOffset: record.offset, lastOffset: record.offset),
                                limit: limit)
        return Self.record(letter)
    }

    private static func record(_ letter: DeadLetter) -> Record {
        Record(timestamp: -1, key: letter.key, value: letter.value, headers: letter.headers.map { RecordHeader(key: $0.key, value: $0.value) })
    }

    /// The dead-letter partition of a source partition: the same number where it exists, so
    /// dead letters stay easy to find (as the service does).
    static func deadLetterPartition(source: Int32, partitions: Int) -> Int32 {
        guard partitions > 0 else { return 0 }
        return Int(source) < partitions ? source : Int32(Int(source) % partitions)
    }

    /// Consecutive runs of `records` of at most about `bytesPerDeadLetterBatch` each.
    static func chunks(_ records: [Record], maximumBytes: Int = bytesPerDeadLetterBatch) -> [[Record]] {
        var chunks: [[Record]] = []
        var current: [Record] = []
        var bytes = 0
        for record in records {
            let size = 64 + (record.key?.count ?? 0) + (record.value?.count ?? 0)
                + record.headers.reduce(0) { $0 + 10 + $1.key.utf8.count + ($1.value?.count ?? 0) }
            if !current.isEmpty, bytes + size > maximumBytes {
                chunks.append(current)
                current = []
                bytes = 0
            }
            current.append(record)
            bytes += size
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }

    /// Journal entries split into the readable and the unreadable (with why), in key order.
    static func readJournal(_ entries: [(key: [UInt8], value: [UInt8])])
        -> (attempts: [PaymentExecutor.Attempt], unreadable: [(key: [UInt8], value: [UInt8], reason: String)]) {
        var attempts: [PaymentExecutor.Attempt] = []
        var unreadable: [(key: [UInt8], value: [UInt8], reason: String)] = []
        for entry in entries {
            do {
                attempts.append(try PaymentExecutor.Attempt.decode(entry.value))
            } catch {
                unreadable.append((entry.key, entry.value, "\(error)"))
            }
        }
        return (attempts, unreadable)
    }

    /// What writing `attempt` over the journal's entry for it (`stored`, if any) writes: the
    /// attempt, keeping the published count the outbox sender may have advanced since the
    /// caller read it; and the stored bytes to quarantine when they do not decode, so that the
    /// entry is kept for an operator rather than overwritten unseen.
    static func journalWrite(_ attempt: PaymentExecutor.Attempt, over stored: [UInt8]?)
        -> (attempt: PaymentExecutor.Attempt, quarantined: [UInt8]?) {
        guard let stored else { return (attempt, nil) }
        var merged = attempt
        do {
            merged.published = max(attempt.published, try PaymentExecutor.Attempt.decode(stored).published)
        } catch {
            return (attempt, stored)
        }
        return (merged, nil)
    }

    /// Moves an unreadable journal entry to the quarantine table (same key, bytes unchanged)
    /// in the caller's transaction: it is neither dropped nor read again at every start.
    static func quarantine(key: [UInt8], value: [UInt8], in transaction: WriteTransaction) throws {
        try transaction.table(quarantineTable).put(key, value)
        _ = try transaction.table(PaymentExecutor.Tables.attempts).delete(key)
    }
}
