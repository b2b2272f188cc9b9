import Crypto
import Foundation
import LogStore
import Protocol

/// One posted entry: a transfer as the ledger recorded it, hash-chained to the one before.
public struct LedgerEntry: Codable, Sendable, Hashable {
    public var sequence: UInt64
    public var transferId: String
    public var kind: TransferRequest.Kind
    public var debit: AccountID
    public var credit: AccountID
    public var amount: Int64
    public var currency: String
    public var paymentOrderId: String
    public var refundId: String?
    public var merchantId: String
    public var psp: String
    public var pspReference: String?
    public var occurredAt: Int64
    public var source: EventSource
    /// When the ledger posted it (ms since the epoch); a held refund's is its release.
    public var postedAt: Int64
    /// The previous entry's hash (hex); 64 zeros for the first.
    public var prevHash: String
}

/// A refund waiting for its merchant's wallet to hold enough.
public struct HeldTransfer: Codable, Sendable, Hashable {
    public var request: TransferRequest
    public var reason: String
    public var heldAt: Int64
}

/// What one batch did.
public struct LedgerBatchSummary: Sendable, Hashable {
    public var posted = 0
    public var held = 0
    /// Held refunds posted because a payment brought their wallet enough.
    public var released = 0
    public var duplicates = 0
    public var conflicts = 0
    public var deadLettered = 0
    /// Records that move no money (FAILED payments).
    public var ignored = 0

    public init() {}
}

/// The ledger's tables in its own LMDB environment, and the one transaction per batch that
/// writes postings, balances and the input position together: a batch is posted whole or not
/// at all, and a restart goes on from exactly the position its postings were made to.
///
/// - `ledger.entries`: u64 sequence -> SHA-256 chain hash (32 bytes) + the entry's JSON; the
///   hash is SHA-256(previous hash || body), append-only like the service's audit trail.
/// - `ledger.transfers`: transfer id -> 16-byte content hash + state (1 posted, 2 held) + u64
///   entry sequence: what makes a redelivered event a duplicate or a conflict.
/// - `ledger.accounts`: SHA-256(account id) -> totals (`AccountBalance`, 33 bytes) + the id's text.
/// - `ledger.account_entries`: account key + u64 sequence -> empty (an account's entries).
/// - `ledger.held`: debited account key + u32 partition + u64 offset -> `HeldTransfer` JSON.
/// - `ledger.conflicts`, `ledger.dead_letters`: u32 partition + u64 offset -> JSON with the reason.
/// - `ledger.totals`: currency -> Σ debits, Σ credits (equal after every commit: asserted).
/// - `ledger.positions`: u32 partition of `payment-events` -> the next offset to read.
public struct LedgerStore: Sendable {
    public let store: LogStore

    enum Tables {
        static let entries = "ledger.entries"
        static let transfers = "ledger.transfers"
        static let accounts = "ledger.accounts"
        static let accountEntries = "ledger.account_entries"
        static let held = "ledger.held"
        static let conflicts = "ledger.conflicts"
        static let deadLetters = "ledger.dead_letters"
        static let totals = "ledger.totals"
        static let positions = "ledger.positions"
        static let all = [entries, transfers, accounts, accountEntries, held, conflicts, deadLetters, totals, positions]
    }

    static let genesisHash = [UInt8](repeating: 0, count: 32)
    /// The most bytes of an undecodable record's value a dead letter keeps (its digest is kept whole).
    static let deadLetterValueBytes = 4096

    public init(store: LogStore) {
        self.store = store
    }

    /// Creates every table before anything reads them (see `PaymentService.ensureTables`).
    public func ensureTables() async throws {
        try await store.write { transaction in
            for table in Tables.all { _ = try transaction.table(table) }
        }
    }

    /// The next offset of each partition it has read (absent: from the start).
    public func positions() throws -> [Int32: Int64] {
        try store.read { transaction in
            var positions: [Int32: Int64] = [:]
            try transaction.table(Tables.positions)?.forEach(from: []) { key, value in
                guard key.count == 4, value.count == 8 else { return true }
                positions[Int32(bitPattern: UInt32(bigEndianBytes: Array(key)) ?? 0)] = Int64(bigEndianBytes: Array(value))
                return true
            }
            return positions
        }
    }

    /// Posts a partition's records `from...` in one transaction with its new position
    /// `nextOffset`. The stored position must still be `from` (one consumer per partition); a
    /// Σ invariant that does not hold aborts the transaction.
    public func apply(_ inputs: [(record: Record, input: LedgerInput)], partition: Int32, from: Int64, nextOffset: Int64,
                      nowMilliseconds: Int64) async throws -> LedgerBatchSummary {
        let inputs = inputs
        return try await store.write { transaction in
            let positions = try transaction.table(Tables.positions)
            let positionKey = UInt32(bitPattern: partition).bigEndianBytes
            let stored = try positions.get(positionKey).flatMap { Int64(bigEndianBytes: $0) } ?? 0
            guard stored == from else {
                throw LogStoreError(.invalidArgument, "payment-events-\(partition) was posted up to \(stored), not \(from), by another consumer")
            }
            var batch = try Batch(transaction, now: nowMilliseconds)
            for (record, input) in inputs {
                try batch.apply(input, record: record, partition: partition)
            }
            try batch.finish()
            try positions.put(positionKey, nextOffset.bigEndianBytes)
            return batch.summary
        }
    }

    /// The writes of one batch, with the accounts and totals it touched kept in memory until
    /// `finish` writes them once.
    struct Batch {
        let transaction: WriteTransaction
        let now: Int64
        let entries: WritableTable
        let transfers: WritableTable
        let accountTable: WritableTable
        let accountEntries: WritableTable
        let heldTable: WritableTable
        var nextSequence: UInt64 = 0
        var previousHash = LedgerStore.genesisHash
        var accounts: [AccountID: AccountBalance] = [:]
        var totals: [String: (debits: Int64, credits: Int64)] = [:]
        var summary = LedgerBatchSummary()

        init(_ transaction: WriteTransaction, now: Int64) throws {
            self.transaction = transaction
            self.now = now
            entries = try transaction.table(Tables.entries)
            transfers = try transaction.table(Tables.transfers)
            accountTable = try transaction.table(Tables.accounts)
            accountEntries = try transaction.table(Tables.accountEntries)
            heldTable = try transaction.table(Tables.held)
            if let head = try entries.last() {
                guard head.key.count == 8, head.value.count > 32 else {
                    throw LogStoreError(.storageFailure, "the ledger's head entry is malformed; run `paynode ledger verify`")
                }
                nextSequence = (UInt64(bigEndianBytes: head.key) ?? 0) + 1
                previousHash = Array(head.value.prefix(32))
            }
        }

        mutating func apply(_ input: LedgerInput, record: Record, partition: Int32) throws {
            switch input {
            case .nothing:
                summary.ignored += 1
            case .undecodable(let reason):
                try deadLetter(record, reason: reason, partition: partition)
            case .transfer(let request):
                let known = try transfers.get(Array(request.id.utf8)).map { Array($0.prefix(16)) }
                let debit = try balance(request.debit)
                switch PostingRules.decide(request, known: known, debitBalance: debit) {
                case .duplicate:
                    summary.duplicates += 1
                case .conflict(let reason):
                    summary.conflicts += 1
                    try put(Tables.conflicts, partition: partition, offset: record.offset,
                            JSONSerialization.data(withJSONObject: ["transferId": request.id, "reason": reason,
                                                                    "source": "\(request.source.topic)-\(partition)@\(record.offset)"],
                                                   options: [.sortedKeys]))
                case .hold(let reason):
                    summary.held += 1
                    var balance = debit
                    balance.held = try Self.sum(balance.held, request.amount)
                    accounts[request.debit] = balance
                    try heldTable.put(request.debit.storeKey + UInt32(bitPattern: partition).bigEndianBytes + UInt64(bitPattern: record.offset).bigEndianBytes,
                                      Self.encoder.encode(HeldTransfer(request: request, reason: reason, heldAt: now)).bytes)
                    try transfers.put(Array(request.id.utf8), request.contentHash + [2] + UInt64(0).bigEndianBytes)
                case .post:
                    try post(request)
                    summary.posted += 1
                    if request.credit.kind == .merchant { try releaseHeld(debiting: request.credit) }
                }
            }
        }

        /// The entry, both accounts' totals, the currency's totals and the transfer's record.
        mutating func post(_ request: TransferRequest) throws {
            let sequence = nextSequence
            let entry = LedgerEntry(sequence: sequence, transferId: request.id, kind: request.kind, debit: request.debit, credit: request.credit,
                                    amount: request.amount, currency: request.currency, paymentOrderId: request.paymentOrderId,
                                    refundId: request.refundId, merchantId: request.merchantId, psp: request.psp,
                                    pspReference: request.pspReference, occurredAt: request.occurredAt, source: request.source,
                                    postedAt: now, prevHash: LedgerStore.hex(previousHash))
            let body = try Self.encoder.encode(entry).bytes
            let hash = LedgerStore.chainHash(previous: previousHash, body: body)
            let key = sequence.bigEndianBytes
            try entries.append(key, hash + body)
            var debit = try balance(request.debit)
            debit.debits = try Self.sum(debit.debits, request.amount)
            debit.entries += 1
            accounts[request.debit] = debit
            var credit = try balance(request.credit)
            credit.credits = try Self.sum(credit.credits, request.amount)
            credit.entries += 1
            accounts[request.credit] = credit
            try accountEntries.put(request.debit.storeKey + key, [])
            try accountEntries.put(request.credit.storeKey + key, [])
            var total = try totals[request.currency] ?? Self.storedTotals(request.currency, in: transaction)
            total.debits = try Self.sum(total.debits, request.amount)
            total.credits = try Self.sum(total.credits, request.amount)
            totals[request.currency] = total
            try transfers.put(Array(request.id.utf8), request.contentHash + [1] + key)
            nextSequence = sequence + 1
            previousHash = hash
        }

        /// Held refunds of `wallet`, oldest first by their source, posted while it has enough.
        mutating func releaseHeld(debiting wallet: AccountID) throws {
            let prefix = wallet.storeKey
            var waiting: [(key: [UInt8], held: HeldTransfer)] = []
            try heldTable.forEach(from: prefix) { key, value in
                guard key.count == prefix.count + 12, key.starts(with: prefix) else { return false }
                waiting.append((Array(key), try Self.decoder.decode(HeldTransfer.self, from: Data(value))))
                return true
            }
            for entry in waiting {
                let balance = try balance(wallet)
                guard PostingRules.canRelease(entry.held.request, debitBalance: balance) else { break }
                var released = balance
                released.held = max(0, released.held - entry.held.request.amount)
                accounts[wallet] = released
                _ = try heldTable.delete(entry.key)
                try post(entry.held.request)
                summary.released += 1
            }
        }

        mutating func balance(_ account: AccountID) throws -> AccountBalance {
            if let known = accounts[account] { return known }
            guard let bytes = try accountTable.get(account.storeKey) else { return AccountBalance() }
            guard bytes.count >= AccountBalance.storedSize, let balance = AccountBalance(decoding: Array(bytes.prefix(AccountBalance.storedSize))) else {
                throw LedgerStoreError(description: "the stored totals of account \(account) are damaged")
            }
            accounts[account] = balance
            return balance
        }

        mutating func deadLetter(_ record: Record, reason: String, partition: Int32) throws {
            summary.deadLettered += 1
            let value = record.value ?? []
            let letter: [String: Any] = [
                "reason": reason, "partition": Int(partition), "offset": Int(record.offset),
                "key": record.key.map { String(decoding: $0.prefix(256), as: UTF8.self) } ?? NSNull(),
                "valueLength": value.count, "valueSha256": LedgerStore.hex(Array(SHA256.hash(data: value))),
                "valuePrefixBase64": Data(value.prefix(LedgerStore.deadLetterValueBytes)).base64EncodedString(),
            ]
            try put(Tables.deadLetters, partition: partition, offset: record.offset, JSONSerialization.data(withJSONObject: letter, options: [.sortedKeys]))
        }

        func put(_ table: String, partition: Int32, offset: Int64, _ data: Data) throws {
            try transaction.table(table).put(UInt32(bitPattern: partition).bigEndianBytes + UInt64(bitPattern: offset).bigEndianBytes, Array(data))
        }

        /// Every account and total the batch touched, and the Σ invariant: per currency, the
        /// debits posted equal the credits posted.
        func finish() throws {
            for (account, balance) in accounts {
                try accountTable.put(account.storeKey, balance.encoded() + Array(account.description.utf8))
            }
            let table = try transaction.table(Tables.totals)
            for (currency, total) in totals {
                guard total.debits == total.credits else {
                    throw LedgerStoreError(description: "Σ debits \(total.debits) != Σ credits \(total.credits) in \(currency); the batch is not committed")
                }
                try table.put(Array(currency.utf8), total.debits.bigEndianBytes + total.credits.bigEndianBytes)
            }
        }

        static func storedTotals(_ currency: String, in transaction: WriteTransaction) throws -> (debits: Int64, credits: Int64) {
            guard let bytes = try transaction.table(Tables.totals).get(Array(currency.utf8)) else { return (0, 0) }
            guard bytes.count == 16, let debits = Int64(bigEndianBytes: Array(bytes.prefix(8))),
                  let credits = Int64(bigEndianBytes: Array(bytes.suffix(8))) else {
                throw LedgerStoreError(description: "the stored totals of \(currency) are damaged")
            }
            return (debits, credits)
        }

        /// Amounts come from the log: a sum past Int64 refuses the batch rather than trapping.
        static func sum(_ total: Int64, _ amount: Int64) throws -> Int64 {
            let (sum, overflow) = total.addingReportingOverflow(amount)
            guard !overflow else { throw LedgerStoreError(description: "a total would exceed \(Int64.max)") }
            return sum
        }

        /// Sorted keys: an entry's body is hashed as stored, and reads the same on every run.
        static var encoder: JSONEncoder {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return encoder
        }
        static var decoder: JSONDecoder { JSONDecoder() }
    }

    static func chainHash(previous: [UInt8], body: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: body)
        return Array(hasher.finalize())
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// The ledger's store holds something it cannot read, or a batch would break an invariant.
public struct LedgerStoreError: Error, CustomStringConvertible {
    public var description: String
}

extension Data {
    var bytes: [UInt8] { Array(self) }
}
