import Crypto
import Foundation
import LogStore

/// An account as the API shows it.
public struct AccountView: Codable, Sendable, Hashable {
    public var account: AccountID
    public var kind: AccountID.Kind
    public var currency: String
    public var owner: String
    public var debits: Int64
    public var credits: Int64
    /// In the account's normal direction: credits - debits for a wallet, debits - credits for a
    /// PSP's clearing account.
    public var balance: Int64
    /// Refunds waiting for the wallet to hold enough.
    public var held: Int64
    public var entries: UInt64
}

/// What `verify` found: the chain walked, every balance recomputed from the entries.
public struct LedgerVerification: Codable, Sendable, Hashable {
    public var entries: UInt64
    public var accounts: Int
    /// Per currency, Σ debits (= Σ credits when nothing is wrong).
    public var totals: [String: Int64]
    public var headHash: String
    /// What does not hold (at most `maximumProblems`); empty when the ledger is sound.
    public var problems: [String]

    public var ok: Bool { problems.isEmpty }
    public static let maximumProblems = 50
}

extension LedgerStore {
    /// The most entries one transactions page shows.
    public static let maximumPage = 500

    public func account(_ id: AccountID) throws -> AccountView? {
        try store.read { transaction in
            guard let bytes = try transaction.table(Tables.accounts)?.get(id.storeKey),
                  let balance = AccountBalance(decoding: Array(bytes.prefix(AccountBalance.storedSize))) else { return nil }
            return Self.view(id, balance)
        }
    }

    /// Every account, in key order (of their hashes), at most `limit` after `cursor` (a store key, hex).
    public func accounts(limit: Int = 100) throws -> [AccountView] {
        try store.read { transaction in
            var views: [AccountView] = []
            try transaction.table(Tables.accounts)?.forEach(from: []) { _, value in
                let bytes = Array(value)
                guard bytes.count > AccountBalance.storedSize, let balance = AccountBalance(decoding: Array(bytes.prefix(AccountBalance.storedSize))),
                      let id = AccountID(String(decoding: bytes.dropFirst(AccountBalance.storedSize), as: UTF8.self)) else { return true }
                views.append(Self.view(id, balance))
                return views.count < limit
            }
            return views.sorted { $0.account < $1.account }
        }
    }

    /// The account's entries, newest first: at most `limit` before sequence `before` (nil: from
    /// the newest). `next` is the cursor of the following page.
    public func transactions(of id: AccountID, before: UInt64?, limit: Int) throws -> (entries: [LedgerEntry], next: UInt64?) {
        let limit = min(max(1, limit), Self.maximumPage)
        return try store.read { transaction in
            guard let index = transaction.table(Tables.accountEntries), let log = transaction.table(Tables.entries) else { return ([], nil) }
            let prefix = id.storeKey
            let end = prefix + (before ?? UInt64.max).bigEndianBytes
            var entries: [LedgerEntry] = []
            var next: UInt64?
            try index.forEachReverse(before: end) { key, _ in
                guard key.count == prefix.count + 8, key.starts(with: prefix) else { return false }
                let sequence = Array(key.suffix(8))
                if entries.count == limit {
                    next = entries.last?.sequence
                    return false
                }
                guard let stored = try log.get(sequence), stored.count > 32 else { return true }
                entries.append(try JSONDecoder().decode(LedgerEntry.self, from: Data(stored.dropFirst(32))))
                return true
            }
            return (entries, next)
        }
    }

    /// Every entry, oldest first (for reconciliation: a ledger of millions of entries is read whole).
    public func entries(psp: String? = nil) throws -> [LedgerEntry] {
        try store.read { transaction in
            var entries: [LedgerEntry] = []
            let decoder = JSONDecoder()
            try transaction.table(Tables.entries)?.forEach(from: []) { _, value in
                guard value.count > 32 else { return true }
                let entry = try decoder.decode(LedgerEntry.self, from: Data(value.dropFirst(32)))
                if psp == nil || entry.psp == psp { entries.append(entry) }
                return true
            }
            return entries
        }
    }

    /// The refunds held against an account, oldest first.
    public func held(for id: AccountID) throws -> [HeldTransfer] {
        try store.read { transaction in
            var held: [HeldTransfer] = []
            let prefix = id.storeKey
            try transaction.table(Tables.held)?.forEach(from: prefix) { key, value in
                guard key.starts(with: prefix) else { return false }
                held.append(try JSONDecoder().decode(HeldTransfer.self, from: Data(value)))
                return true
            }
            return held
        }
    }

    /// Counts the conflicts and dead letters recorded (for metrics and the node's log).
    public func recordedProblems() throws -> (conflicts: Int, deadLetters: Int, held: Int) {
        try store.read { transaction in
            (try transaction.table(Tables.conflicts)?.count() ?? 0, try transaction.table(Tables.deadLetters)?.count() ?? 0,
             try transaction.table(Tables.held)?.count() ?? 0)
        }
    }

    /// Walks every entry in order: the hash chain, each entry's sequence, every account's
    /// totals and entry count recomputed from the entries and compared with the stored ones,
    /// Σ debits = Σ credits per currency and the stored totals, each transfer record naming
    /// its entry, and the held refunds against the stored held amounts.
    public func verify() throws -> LedgerVerification {
        try store.read { transaction in
            var problems: [String] = []
            func problem(_ text: String) {
                if problems.count < LedgerVerification.maximumProblems { problems.append(text) }
            }
            var computed: [AccountID: AccountBalance] = [:]
            var totals: [String: Int64] = [:]
            var previous = LedgerStore.genesisHash
            var expected: UInt64 = 0
            let decoder = JSONDecoder()
            try transaction.table(Tables.entries)?.forEach(from: []) { key, value in
                let sequence = UInt64(bigEndianBytes: Array(key)) ?? .max
                let stored = Array(value)
                guard stored.count > 32 else {
                    problem("entry \(sequence) is too short")
                    return true
                }
                if sequence != expected { problem("entry \(sequence) follows \(expected &- 1): a gap") }
                expected = sequence &+ 1
                let body = Array(stored.dropFirst(32))
                if LedgerStore.chainHash(previous: previous, body: body) != Array(stored.prefix(32)) {
                    problem("entry \(sequence): the chain hash does not match its body and the previous hash")
                }
                previous = Array(stored.prefix(32))
                guard let entry = try? decoder.decode(LedgerEntry.self, from: Data(body)) else {
                    problem("entry \(sequence) does not decode")
                    return true
                }
                if entry.sequence != sequence { problem("entry \(sequence) says it is \(entry.sequence)") }
                if entry.debit.currency != entry.credit.currency || entry.amount <= 0 {
                    problem("entry \(sequence) moves \(entry.amount) from \(entry.debit) to \(entry.credit)")
                }
                computed[entry.debit, default: AccountBalance()].debits &+= entry.amount
                computed[entry.debit, default: AccountBalance()].entries += 1
                computed[entry.credit, default: AccountBalance()].credits &+= entry.amount
                computed[entry.credit, default: AccountBalance()].entries += 1
                totals[entry.currency, default: 0] &+= entry.amount
                if let transfer = try transaction.table(Tables.transfers)?.get(Array(entry.transferId.utf8)) {
                    if transfer.count != 25 || transfer[16] != 1 || Array(transfer.suffix(8)) != key.map({ $0 }) {
                        problem("transfer \(entry.transferId) does not name entry \(sequence)")
                    }
                } else {
                    problem("entry \(sequence) has no transfer record \(entry.transferId)")
                }
                return true
            }
            var heldByAccount: [AccountID: Int64] = [:]
            try transaction.table(Tables.held)?.forEach(from: []) { _, value in
                if let held = try? decoder.decode(HeldTransfer.self, from: Data(value)) {
                    heldByAccount[held.request.debit, default: 0] &+= held.request.amount
                } else {
                    problem("a held refund does not decode")
                }
                return true
            }
            var accountCount = 0
            try transaction.table(Tables.accounts)?.forEach(from: []) { _, value in
                accountCount += 1
                let bytes = Array(value)
                guard bytes.count > AccountBalance.storedSize, let balance = AccountBalance(decoding: Array(bytes.prefix(AccountBalance.storedSize))),
                      let id = AccountID(String(decoding: bytes.dropFirst(AccountBalance.storedSize), as: UTF8.self)) else {
                    problem("an account record is damaged")
                    return true
                }
                var expected = computed[id] ?? AccountBalance()
                expected.held = heldByAccount[id] ?? 0
                if expected != balance {
                    problem("account \(id): stored \(balance.debits)/\(balance.credits)/held \(balance.held)/\(balance.entries) entries, the entries give \(expected.debits)/\(expected.credits)/held \(expected.held)/\(expected.entries)")
                }
                computed[id] = nil
                return true
            }
            for id in computed.keys.sorted() { problem("account \(id) has entries but no stored totals") }
            var storedCurrencies = Set<String>()
            try transaction.table(Tables.totals)?.forEach(from: []) { key, value in
                let currency = String(decoding: key, as: UTF8.self)
                storedCurrencies.insert(currency)
                let bytes = Array(value)
                let debits = bytes.count == 16 ? Int64(bigEndianBytes: Array(bytes.prefix(8))) : nil
                let credits = bytes.count == 16 ? Int64(bigEndianBytes: Array(bytes.suffix(8))) : nil
                if debits != credits { problem("\(currency): Σ debits \(debits ?? -1) != Σ credits \(credits ?? -1)") }
                if debits != totals[currency] ?? 0 { problem("\(currency): stored Σ \(debits ?? -1), the entries give \(totals[currency] ?? 0)") }
                return true
            }
            for currency in Set(totals.keys).subtracting(storedCurrencies).sorted() { problem("\(currency) has entries but no stored totals") }
            return LedgerVerification(entries: expected, accounts: accountCount, totals: totals, headHash: LedgerStore.hex(previous),
                                      problems: problems)
        }
    }

    static func view(_ id: AccountID, _ balance: AccountBalance) -> AccountView {
        AccountView(account: id, kind: id.kind, currency: id.currency, owner: id.owner, debits: balance.debits, credits: balance.credits,
                    balance: balance.balance(of: id), held: balance.held, entries: balance.entries)
    }
}

extension LedgerStore {
    /// What differs between this ledger and `other` (a rebuild of it): every account's totals,
    /// held amount and entry count, the per-currency totals, and the transfers (id, content and
    /// whether posted or held). Entry sequences and posting times are left out: a rebuild
    /// interleaves partitions in another order and posts at another time. Empty when equal;
    /// at most `LedgerVerification.maximumProblems`.
    public func differences(from other: LedgerStore) throws -> [String] {
        var differences: [String] = []
        func note(_ text: String) {
            if differences.count < LedgerVerification.maximumProblems { differences.append(text) }
        }
        let mine = try snapshot()
        let theirs = try other.snapshot()
        for account in Set(mine.accounts.keys).union(theirs.accounts.keys).sorted() where mine.accounts[account] != theirs.accounts[account] {
            let describe: (AccountBalance?) -> String = { balance in
                balance.map { "debits \($0.debits), credits \($0.credits), held \($0.held), \($0.entries) entries" } ?? "absent"
            }
            note("account \(account): live \(describe(mine.accounts[account])), rebuilt \(describe(theirs.accounts[account]))")
        }
        for currency in Set(mine.totals.keys).union(theirs.totals.keys).sorted() where mine.totals[currency] != theirs.totals[currency] {
            let sum: ([UInt8]?) -> String = { $0.flatMap { Int64(bigEndianBytes: Array($0.prefix(8))) }.map(String.init) ?? "absent" }
            note("\(currency): live Σ debits \(sum(mine.totals[currency])), rebuilt \(sum(theirs.totals[currency]))")
        }
        for id in Set(mine.transfers.keys).union(theirs.transfers.keys).sorted() where mine.transfers[id] != theirs.transfers[id] {
            let describe: ([UInt8]?) -> String = { value in
                guard let value, value.count > 16 else { return "absent" }
                return value[16] == 1 ? "posted" : "held"
            }
            note("transfer \(id): live \(describe(mine.transfers[id])), rebuilt \(describe(theirs.transfers[id]))"
                 + (describe(mine.transfers[id]) == describe(theirs.transfers[id]) ? " with other content" : ""))
        }
        return differences
    }

    private struct Snapshot {
        var accounts: [String: AccountBalance] = [:]
        var totals: [String: [UInt8]] = [:]
        /// id -> content hash and state (the entry sequence dropped).
        var transfers: [String: [UInt8]] = [:]
    }

    private func snapshot() throws -> Snapshot {
        try store.read { transaction in
            var snapshot = Snapshot()
            try transaction.table(Tables.accounts)?.forEach(from: []) { _, value in
                let bytes = Array(value)
                if bytes.count > AccountBalance.storedSize, let balance = AccountBalance(decoding: Array(bytes.prefix(AccountBalance.storedSize))) {
                    snapshot.accounts[String(decoding: bytes.dropFirst(AccountBalance.storedSize), as: UTF8.self)] = balance
                }
                return true
            }
            try transaction.table(Tables.totals)?.forEach(from: []) { key, value in
                snapshot.totals[String(decoding: key, as: UTF8.self)] = Array(value)
                return true
            }
            try transaction.table(Tables.transfers)?.forEach(from: []) { key, value in
                snapshot.transfers[String(decoding: key, as: UTF8.self)] = Array(value.prefix(17))
                return true
            }
            return snapshot
        }
    }
}
