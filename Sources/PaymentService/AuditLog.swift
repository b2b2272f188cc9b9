import Crypto
import Foundation
import LogStore
import Payments
import Protocol

/// The service's audit trail: every PSP result it sees (applied, recorded, duplicate, stale,
/// conflict, dead-lettered) gets one immutable entry, written in the same transaction as the
/// result's effect, and chained by SHA-256 so that changing, deleting or reordering any entry
/// breaks the chain (see `AuditChainVerifier`).
///
/// `audit_log`: key = sequence (u64 big-endian, 0, 1, 2, ... with no gap), value = the entry's
/// hash (32 bytes) followed by its body, canonical JSON (sorted keys) that includes `sequence`
/// and `prevHash`. hash = SHA-256(previous entry's hash || body bytes as stored); the first
/// entry's previous hash is 32 zero bytes.
/// `audit_by_order`: key = 16-byte order id + u64 sequence, value empty: one order's entries.
public enum AuditLog {
    static let table = "payments.audit_log"
    static let byOrder = "payments.audit_by_order"
    static let hashSize = SHA256.byteCount
    static let genesisHash = [UInt8](repeating: 0, count: SHA256.byteCount)

    /// One entry's body. Optional fields are left out when absent.
    public struct Entry: Codable, Sendable, Hashable {
        public var sequence: UInt64
        /// When the service processed the result (ms since the Unix epoch).
        public var time: Int64
        /// `applied`, `recorded`, `duplicate`, `stale`, `conflict` or `dead-lettered`.
        public var outcome: String
        public var paymentOrderId: String?
        public var pspStatus: String?
        public var pspReference: String?
        public var reason: String
        public var sourceTopic: String
        public var sourcePartition: Int32
        public var sourceOffset: Int64
        public var traceId: String?
        /// SHA-256 (hex) of the source record: u32 BE key length, key bytes, value bytes.
        public var recordSha256: String
        /// The previous entry's hash (hex).
        public var prevHash: String
        // Since the order history is served from the audit trail (entries of earlier releases
        // lack them; their orders kept separate history rows):
        public var errorCode: String? = nil
        public var errorMessage: String? = nil
        /// When the PSP obtained the result (ms since the Unix epoch); absent for dead letters.
        public var eventTime: Int64? = nil
        /// The principal the result's producer id was issued to (`User:executor`); absent when
        /// the batch carried no producer id.
        public var producer: String? = nil
        /// The refund a refund result was for (`RefundID`); absent for the payment's own results.
        public var refundId: String? = nil
    }

    /// What the caller knows about a result when it records it.
    struct Observation: Sendable {
        var outcome: String
        var paymentOrderId: String?
        var pspStatus: String?
        var pspReference: String?
        var reason: String
        var traceId: String?
        /// The parsed `paymentOrderId`, when the caller has it already.
        var orderId: PaymentOrderID?
        var errorCode: String?
        var errorMessage: String?
        var eventTime: Int64?
        var producer: String? = nil
        var refundId: String? = nil
    }

    // MARK: Writing

    /// Appends entries at the head of the chain within one write transaction. The tables are
    /// opened and the head is read once per transaction, not once per entry (the consumer writes
    /// thousands per batch). Create it inside the write closure: a closure the group commit runs
    /// again starts again from the committed head.
    struct Writer {
        private let log: WritableTable
        private let index: WritableTable
        private var nextSequence: UInt64 = 0
        private var previousHash = AuditLog.genesisHash

        init(in transaction: WriteTransaction) throws {
            log = try transaction.table(AuditLog.table)
            index = try transaction.table(AuditLog.byOrder)
            if let head = try log.last() {
                guard head.key.count == 8, head.value.count > hashSize else {
                    throw LogStoreError(.storageFailure, "the audit log's head entry is malformed; run `paynode audit verify`")
                }
                nextSequence = AuditLog.sequence(ofKey: head.key) + 1
                previousHash = Array(head.value.prefix(hashSize))
            }
        }

        /// Appends `draft` at the head of the chain: its body gets the sequence and the previous
        /// hash here, everything else was written before the transaction.
        mutating func append(_ draft: Draft) throws {
            let sequence = nextSequence
            let body = draft.body(sequence: sequence, prevHash: previousHash)
            let hash = chainHash(previous: previousHash, body: body)
            try log.append(key(sequence), hash + body)
            if let id = draft.orderId {
                try index.put(id.bytes + key(sequence), [])
            }
            nextSequence = sequence + 1
            previousHash = hash
        }
    }

    /// An entry's body, written before the write transaction (by the consumer's task, off the
    /// single writer thread) except for the two fields only the chain's head knows: `prevHash`
    /// and `sequence`. Their places in the sorted key order split the body into three parts.
    struct Draft: Sendable {
        /// The body with an empty `prevHash` and `sequence` 0, split (one buffer, one allocation)
        /// into `{"outcome":...,"prevHash":"` | `","pspReference":...,"sequence":` | `0` |
        /// `,"sourceOffset":...}`.
        private let bytes: [UInt8]
        private let headEnd: Int
        private let middleEnd: Int
        /// The order the entry is indexed under in `audit_by_order`, if any.
        let orderId: PaymentOrderID?

        init(_ observation: Observation, recordSha256: String, partition: Int32, offset: Int64, now: Int64) {
            let entry = Entry(sequence: 0, time: now, outcome: observation.outcome, paymentOrderId: observation.paymentOrderId,
                              pspStatus: observation.pspStatus, pspReference: observation.pspReference, reason: observation.reason,
                              sourceTopic: PaymentTopics.pspResultUpdates, sourcePartition: partition, sourceOffset: offset,
                              traceId: observation.traceId, recordSha256: recordSha256, prevHash: "",
                              errorCode: observation.errorCode, errorMessage: observation.errorMessage, eventTime: observation.eventTime,
                              producer: observation.producer, refundId: observation.refundId)
            self.init(entry, orderId: observation.orderId ?? observation.paymentOrderId.flatMap(PaymentOrderID.init))
        }

        /// The entry's fields but `sequence` and `prevHash`.
        init(_ entry: Entry, orderId: PaymentOrderID?) {
            var writer = JSONObjectWriter(capacity: 512)
            writer.add("errorCode", entry.errorCode)
            writer.add("errorMessage", entry.errorMessage)
            writer.add("eventTime", entry.eventTime)
            writer.add("outcome", entry.outcome)
            writer.add("paymentOrderId", entry.paymentOrderId)
            writer.add("prevHash", plain: "")
            let headEnd = writer.bytes.count - 1  // at the empty hash's closing quote
            writer.add("producer", entry.producer)
            writer.add("pspReference", entry.pspReference)
            writer.add("pspStatus", entry.pspStatus)
            writer.add("reason", entry.reason)
            writer.add("recordSha256", plain: entry.recordSha256)
            writer.add("refundId", entry.refundId)
            writer.add("sequence", Int64(0))
            let middleEnd = writer.bytes.count - 1  // before the placeholder digit
            writer.add("sourceOffset", entry.sourceOffset)
            writer.add("sourcePartition", entry.sourcePartition)
            writer.add("sourceTopic", plain: entry.sourceTopic)
            writer.add("time", entry.time)
            writer.add("traceId", entry.traceId)
            bytes = writer.finish()
            self.headEnd = headEnd
            self.middleEnd = middleEnd
            self.orderId = orderId
        }

        /// The body chained after the entry whose hash is `prevHash`.
        func body(sequence: UInt64, prevHash: [UInt8]) -> [UInt8] {
            body(sequence: sequence) { AuditLog.appendHex(prevHash, to: &$0) }
        }

        /// The body with `writePrevHash` writing the hash's hex digits in their place.
        fileprivate func body(sequence: UInt64, writePrevHash: (inout [UInt8]) -> Void) -> [UInt8] {
            var body = [UInt8]()
            body.reserveCapacity(bytes.count + 2 * AuditLog.hashSize + 20)
            body += bytes[..<headEnd]
            writePrevHash(&body)
            body += bytes[headEnd..<middleEnd]
            JSONObjectWriter.appendDecimal(Int64(bitPattern: sequence), to: &body)
            body += bytes[(middleEnd + 1)...]
            return body
        }
    }

    /// A whole entry's body as stored and hashed: JSON with sorted keys, absent fields left out,
    /// written by `JSONObjectWriter` through `Draft` (JSONEncoder cost more than the rest of the
    /// audit write; tests hold the two byte for byte). The verifier hashes the stored bytes, so
    /// the exact spelling only has to be valid JSON.
    static func canonical(_ entry: Entry) -> [UInt8] {
        Draft(entry, orderId: nil).body(sequence: entry.sequence) { $0 += entry.prevHash.utf8 }
    }

    static func chainHash(previous: [UInt8], body: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        // Buffer pointers, not `update(data:)`: the generic DataProtocol path cost as much as the hashing.
        previous.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        body.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return bytes(of: hasher.finalize())
    }

    static func recordDigest(_ record: Record) -> [UInt8] {
        var hasher = SHA256()
        let keyLength = UInt32(truncatingIfNeeded: record.key?.count ?? 0).bigEndian
        withUnsafeBytes(of: keyLength) { hasher.update(bufferPointer: $0) }
        record.key?.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        record.value?.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return bytes(of: hasher.finalize())
    }

    /// The digest's 32 bytes in one copy (`Array(digest)` walked it as a generic sequence).
    private static func bytes(of digest: SHA256Digest) -> [UInt8] {
        digest.withUnsafeBytes { Array($0) }
    }

    static func key(_ sequence: UInt64) -> [UInt8] { sequence.bigEndianBytes }

    static func sequence(ofKey key: some Collection<UInt8>) -> UInt64 {
        key.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Written into a stack buffer and appended at once: appending digit by digit checked the
    /// array's capacity and uniqueness 64 times per hash.
    static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bytes.count * 2) { digits in
            for (index, byte) in bytes.enumerated() {
                digits[2 * index] = hexDigit(byte >> 4)
                digits[2 * index + 1] = hexDigit(byte & 0x0F)
            }
            out.append(contentsOf: digits)
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            for (index, byte) in bytes.enumerated() {
                buffer[2 * index] = hexDigit(byte >> 4)
                buffer[2 * index + 1] = hexDigit(byte & 0x0F)
            }
            return bytes.count * 2
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    // MARK: Reading

    /// One stored entry: its body and its hash.
    public struct StoredEntry: Sendable, Hashable, Encodable {
        public var entry: Entry
        public var hash: String

        public func encode(to encoder: any Encoder) throws {
            try entry.encode(to: encoder)
            var container = encoder.container(keyedBy: HashKey.self)
            try container.encode(hash, forKey: .hash)
        }

        private enum HashKey: String, CodingKey { case hash }
    }

    static func decode(_ value: some Collection<UInt8>) throws -> StoredEntry {
        let bytes = Array(value)
        guard bytes.count > hashSize else { throw AuditError("entry is \(bytes.count) bytes, shorter than its hash") }
        let entry = try JSONDecoder().decode(Entry.self, from: Data(bytes[hashSize...]))
        return StoredEntry(entry: entry, hash: hex(Array(bytes.prefix(hashSize))))
    }

    /// One order's entries in chain order (via `audit_by_order`).
    /// One page of an order's entries in sequence order: those at or after sequence `from`, at
    /// most `limit`, and the sequence to ask for next when more follow (nil: that was the last).
    static func entries(of id: PaymentOrderID, in transaction: ReadTransaction, from: UInt64 = 0,
                        limit: Int = .max) throws -> (entries: [StoredEntry], next: UInt64?) {
        guard let index = transaction.table(byOrder), let log = transaction.table(table) else { return ([], nil) }
        var sequences: [[UInt8]] = []
        var next: UInt64?
        try index.forEach(from: id.bytes + from.bigEndianBytes) { key, _ in
            guard key.count == 24, key.starts(with: id.bytes) else { return false }
            guard sequences.count < max(0, limit) else {
                next = UInt64(bigEndianBytes: key.suffix(8))
                return false
            }
            sequences.append(Array(key.suffix(8)))
            return true
        }
        return (try sequences.compactMap { sequence in try log.get(sequence).map(decode) }, next)
    }
}

struct AuditError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
