import Foundation
import KafkaClient
import LogStore
import Protocol

/// The outbox's tables, read and written only inside the caller's transaction so that a PSP
/// result, its outbox entry and the reserved sequence numbers commit together (or not at all).
///
/// `executor_outbox`: key = partition (u32 BE) + serial (u64 BE), value = JSON `OutboxEntry`.
/// `executor_producer` / `outbox`: JSON `OutboxProducerState`.
enum OutboxStore {
    static let entries = "executor.outbox"
    static let producerTable = "executor.producer"
    static let producerKey = Array("outbox".utf8)

    static func key(partition: Int32, serial: UInt64) -> [UInt8] {
        UInt32(bitPattern: partition).bigEndianBytes + serial.bigEndianBytes
    }

    static func producerState(_ table: (some TableReading)?) throws -> OutboxProducerState? {
        guard let bytes = try table?.get(producerKey) else { return nil }
        return try OutboxProducerState.decode(bytes)
    }

    static func save(_ state: OutboxProducerState, in transaction: WriteTransaction) throws {
        try transaction.table(producerTable).put(producerKey, state.encoded())
    }

    /// Adds `records` (in order) as one unsealed entry of `partition` with freshly reserved
    /// sequences. The producer state must exist (see `PaymentExecutor.prepareProducer`).
    static func enqueue(_ records: [OutboxRecord], partition: Int32, in transaction: WriteTransaction) throws {
        guard !records.isEmpty else { return }
        guard var state = try producerState(transaction.table(producerTable)) else {
            throw OutboxError("the outbox has no producer identity yet")
        }
        let reserved = state.reserve(Int32(records.count), partition: partition)
        let entry = OutboxEntry(producerId: state.producerId, producerEpoch: state.producerEpoch,
                                baseSequence: reserved.baseSequence, sealed: false, records: records)
        try transaction.table(entries).put(key(partition: partition, serial: reserved.serial), entry.encoded())
        try save(state, in: transaction)
    }

    /// A partition's entries in order, at most `limit`. Throws `OutboxEntryUnreadable` at the
    /// first entry that cannot be decoded (see `quarantineUnreadable`).
    static func pending(partition: Int32, in table: (some TableReading)?, limit: Int) throws -> [(key: [UInt8], entry: OutboxEntry)] {
        guard let table else { return [] }
        let prefix = UInt32(bitPattern: partition).bigEndianBytes
        var found: [(key: [UInt8], entry: OutboxEntry)] = []
        try table.forEach(from: prefix) { key, value in
            guard key.count == 12, Array(key.prefix(4)) == prefix else { return false }
            found.append((Array(key), try decode(key: Array(key), value)))
            return found.count < limit
        }
        return found
    }

    static func decode(key: [UInt8], _ value: some Collection<UInt8>) throws(OutboxEntryUnreadable) -> OutboxEntry {
        do {
            return try OutboxEntry.decode(value)
        } catch {
            throw OutboxEntryUnreadable(key: key, reason: "\(error)")
        }
    }

    static let quarantine = "executor.outbox_quarantine"

    /// Moves every outbox entry that cannot be decoded (damaged bytes, or a format this release
    /// does not know) to `executor_outbox_quarantine`, byte for byte under its key, and puts back
    /// in the outbox each journaled result that is neither acknowledged (`published`) nor in a
    /// readable entry, rebuilt from its attempt: the sender goes on instead of retrying one
    /// entry forever, and no result is lost. The requeued entries take fresh sequence numbers;
    /// the gap left by the quarantined ones makes the broker answer OUT_OF_ORDER_SEQUENCE_NUMBER,
    /// which re-numbers the outbox under a new producer id (`OutboxSender.reinitialize`). The
    /// attempts are scanned whole: rare, and in one transaction so the requeue is exact.
    static func quarantineUnreadable(partitionCount: Int, in transaction: WriteTransaction)
        throws -> (quarantined: [OutboxEntryUnreadable], requeued: Int) {
        let table = try transaction.table(entries)
        var unreadable: [(error: OutboxEntryUnreadable, bytes: [UInt8])] = []
        var queued = Set<ResultKey>()
        try table.forEach(from: []) { key, value in
            guard key.count == 12 else { return true }
            do throws(OutboxEntryUnreadable) {
                for record in try decode(key: Array(key), value).records {
                    queued.insert(ResultKey(paymentOrderId: record.attemptKey, index: record.resultIndex))
                }
            } catch {
                unreadable.append((error, Array(value)))
            }
            return true
        }
        guard !unreadable.isEmpty else { return ([], 0) }
        let moved = try transaction.table(quarantine)
        for entry in unreadable {
            try moved.put(entry.error.key, entry.bytes)
            _ = try table.delete(entry.error.key)
        }
        var missing: [OutboxRecord] = []
        try transaction.table(PaymentExecutor.Tables.attempts).forEach(from: []) { _, value in
            // An attempt that cannot be read is left to the payment path that reads it.
            guard let attempt = try? PaymentExecutor.Attempt.decode(value) else { return true }
            for index in min(attempt.published, attempt.results.count)..<attempt.results.count
            where !queued.contains(ResultKey(paymentOrderId: attempt.order.journalKey, index: index)) {
                missing.append(try PaymentExecutor.outboxRecord(attempt, index: index))
            }
            return true
        }
        for record in missing {
            let partition = KafkaPartitioner.partition(forKey: Array(record.paymentOrderId.utf8), partitionCount: partitionCount)
            try enqueue([record], partition: partition, in: transaction)
        }
        return (unreadable.map(\.error), missing.count)
    }

    private struct ResultKey: Hashable {
        var paymentOrderId: String
        var index: Int
    }

    /// The batch a partition sends next, sealing (and persisting) a merge of unsealed head
    /// entries first, so that every attempt to send it carries the same sequence range.
    static func sealNext(partition: Int32, limits: OutboxPlan.Limits, in transaction: WriteTransaction) throws -> (key: [UInt8], entry: OutboxEntry)? {
        let table = try transaction.table(entries)
        let head = try pending(partition: partition, in: table, limit: limits.maximumRecords)
        guard let plan = OutboxPlan.nextBatch(head.map(\.entry), limits: limits) else { return nil }
        let key = head[0].key
        if plan.consumed > 1 || !head[0].entry.sealed {
            for merged in head[1..<plan.consumed] { try table.delete(merged.key) }
            try table.put(key, plan.batch.encoded())
        }
        return (key, plan.batch)
    }

    /// The broker acknowledged `batch`: removes it and marks its results published in their attempts.
    static func acknowledge(key: [UInt8], batch: OutboxEntry, in transaction: WriteTransaction) throws {
        try transaction.table(entries).delete(key)
        let attempts = try transaction.table(PaymentExecutor.Tables.attempts)
        for record in batch.records {
            let attemptKey = Array(record.attemptKey.utf8)
            guard let bytes = try attempts.get(attemptKey),
                  var attempt = try? PaymentExecutor.Attempt.decode(bytes),
                  attempt.published < record.resultIndex + 1 else { continue }
            attempt.published = record.resultIndex + 1
            try attempts.put(attemptKey, attempt.encoded())
        }
    }

    /// After the broker lost or refused our producer state: every remaining entry of every
    /// partition is re-numbered under `producerId`/`producerEpoch` from sequence 0. Returns how
    /// many entries were re-numbered.
    static func renumberAll(producerId: Int64, producerEpoch: Int16, in transaction: WriteTransaction) throws -> Int {
        let table = try transaction.table(entries)
        var state = try producerState(transaction.table(producerTable))
            ?? OutboxProducerState(producerId: producerId, producerEpoch: producerEpoch)
        state.producerId = producerId
        state.producerEpoch = producerEpoch
        state.nextSequences = [:]
        var byPartition: [Int32: [(key: [UInt8], entry: OutboxEntry)]] = [:]
        try table.forEach(from: []) { key, value in
            guard key.count == 12 else { return true }
            let partition = Int32(bitPattern: UInt32(bigEndianBytes: key.prefix(4)) ?? 0)
            byPartition[partition, default: []].append((Array(key), try decode(key: Array(key), value)))
            return true
        }
        for (partition, current) in byPartition {
            let renumbered = OutboxPlan.renumber(current.map(\.entry), producerId: producerId, producerEpoch: producerEpoch)
            for (index, entry) in renumbered.entries.enumerated() {
                try table.put(current[index].key, entry.encoded())
            }
            state.nextSequences[partition] = renumbered.nextSequence
        }
        try save(state, in: transaction)
        return byPartition.values.reduce(0) { $0 + $1.count }
    }
}

struct OutboxError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An outbox entry that cannot be decoded; `key` is its key in `executor_outbox`.
struct OutboxEntryUnreadable: Error, CustomStringConvertible {
    var key: [UInt8]
    var reason: String

    var partition: Int32 { Int32(bitPattern: UInt32(bigEndianBytes: key.prefix(4)) ?? 0) }
    var serial: UInt64 { UInt64(bigEndianBytes: key.dropFirst(4)) ?? 0 }
    var description: String { "outbox entry \(partition)/\(serial) cannot be read: \(reason)" }
}
