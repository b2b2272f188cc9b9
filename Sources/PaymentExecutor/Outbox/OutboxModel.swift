import Foundation
import KafkaClient
import Payments
import Protocol

/// The executor's producer identity for `psp-result-updates` and the next sequence number of
/// each partition, persisted in the same transactions that fill the outbox. Sequences are
/// reserved here BEFORE anything is sent, so the broker only ever sees sequence numbers that the
/// store already knows: after a crash the same batches go out again with the same producer id,
/// epoch and sequences, and the broker answers them as duplicates.
struct OutboxProducerState: Equatable, Sendable {
    var producerId: Int64
    var producerEpoch: Int16
    /// Partition -> the sequence number the next outbox entry starts with.
    var nextSequences: [Int32: Int32] = [:]
    /// Orders outbox entries within a partition (sequences wrap; this counter does not).
    var nextSerial: UInt64 = 0

    /// Reserves `count` sequence numbers of `partition` and a serial; Int32 wraps to 0 as in Kafka.
    mutating func reserve(_ count: Int32, partition: Int32) -> (baseSequence: Int32, serial: UInt64) {
        let base = nextSequences[partition] ?? 0
        nextSequences[partition] = ProducerState.increment(base, by: count)
        let serial = nextSerial
        nextSerial += 1
        return (base, serial)
    }
}

/// One PSP result as the record it becomes in `psp-result-updates`.
struct OutboxRecord: Equatable, Sendable {
    /// The attempt's journal key (`OrderToPay.journalKey`): the payment order id, or a refund's
    /// id ("<paymentOrderId>-r<n>").
    var attemptKey: String
    /// Which of the attempt's results this is (to mark it published when acknowledged).
    var resultIndex: Int
    var timestamp: Int64
    var value: Data
    var headers: [Header]

    struct Header: Equatable, Sendable {
        var key: String
        var value: Data?
    }

    /// The record's key: the payment order id, also for a refund's results (the contract keys
    /// `psp-result-updates` by order, so an order's results and refunds share a partition).
    var paymentOrderId: String { RefundID(attemptKey)?.paymentOrderID.description ?? attemptKey }

    var kafkaRecord: Record {
        Record(timestamp: timestamp, key: Array(paymentOrderId.utf8), value: Array(value),
               headers: headers.map { RecordHeader(key: $0.key, value: $0.value.map(Array.init)) })
    }

    var estimatedBytes: Int {
        32 + paymentOrderId.utf8.count + value.count + headers.reduce(0) { $0 + 10 + $1.key.utf8.count + ($1.value?.count ?? 0) }
    }
}

/// Records with consecutive sequence numbers under one producer id and epoch. A `sealed`
/// entry may have been sent: it must be re-sent exactly as it is (the broker deduplicates by
/// the whole sequence range), never merged or split again.
struct OutboxEntry: Equatable, Sendable {
    var producerId: Int64
    var producerEpoch: Int16
    var baseSequence: Int32
    var sealed: Bool
    var records: [OutboxRecord]

    var fields: KafkaProducerFields {
        KafkaProducerFields(producerId: producerId, producerEpoch: producerEpoch, baseSequence: baseSequence)
    }

    /// The sequence number after this entry's last record.
    var nextSequence: Int32 { ProducerState.increment(baseSequence, by: Int32(records.count)) }

    var estimatedBytes: Int { records.reduce(0) { $0 + $1.estimatedBytes } }
}

/// The outbox's decisions, free of I/O.
enum OutboxPlan {
    struct Limits: Sendable, Hashable {
        var maximumRecords = 500
        var maximumBytes = 512 << 10
    }

    /// What a partition sends next, from its entries in key order: a sealed head alone, or the
    /// unsealed entries at the head merged into one sealed batch, as long as they continue each
    /// other's sequences under the same producer and fit the limits. `consumed` is how many
    /// leading entries the batch replaces.
    static func nextBatch(_ entries: [OutboxEntry], limits: Limits) -> (batch: OutboxEntry, consumed: Int)? {
        guard var batch = entries.first else { return nil }
        if batch.sealed { return (batch, 1) }
        batch.sealed = true
        var consumed = 1
        var bytes = batch.estimatedBytes
        for next in entries.dropFirst() {
            guard !next.sealed, next.producerId == batch.producerId, next.producerEpoch == batch.producerEpoch,
                  next.baseSequence == batch.nextSequence,
                  batch.records.count + next.records.count <= limits.maximumRecords,
                  bytes + next.estimatedBytes <= limits.maximumBytes else { break }
            batch.records += next.records
            bytes += next.estimatedBytes
            consumed += 1
        }
        return (batch, consumed)
    }

    /// Re-numbers one partition's remaining entries under a new producer id and epoch from
    /// sequence 0, in order, unsealed (nothing was sent under the new identity yet). Returns the
    /// entries and the partition's next sequence.
    static func renumber(_ entries: [OutboxEntry], producerId: Int64, producerEpoch: Int16) -> (entries: [OutboxEntry], nextSequence: Int32) {
        var sequence: Int32 = 0
        let renumbered = entries.map { entry in
            var entry = entry
            entry.producerId = producerId
            entry.producerEpoch = producerEpoch
            entry.baseSequence = sequence
            entry.sealed = false
            sequence = entry.nextSequence
            return entry
        }
        return (renumbered, sequence)
    }

    /// How the sender reacts to a failed send of the head batch.
    enum FailureAction: Equatable {
        /// The broker's producer state no longer matches ours: take a new producer id and
        /// re-number the outbox (the head may be in the log already: a possible duplicate, never a loss).
        case reinitializeProducer
        /// Transient (connection, timeout, leader moves): send the same batch again after a back-off.
        case retry
        /// The broker refuses the batch itself (too large, corrupt): retry slowly and shout.
        case retryLoudly
    }

    static func action(for error: KafkaClientError) -> FailureAction {
        switch error.kafkaError {
        case .outOfOrderSequenceNumber?, .unknownProducerId?, .invalidProducerEpoch?:
            return .reinitializeProducer
        default:
            if error.kafkaErrorCode == 90 { return .reinitializeProducer }  // PRODUCER_FENCED
            return error.isRetriable || error.code == .protocolViolation ? .retry : .retryLoudly
        }
    }
}
