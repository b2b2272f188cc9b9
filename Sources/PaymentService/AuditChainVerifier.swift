import LogStore

/// Walks the audit log in key order and checks, for each entry: its key is the next sequence
/// (a deleted entry leaves a gap), its body decodes and names the same sequence (a moved entry
/// does not), its `prevHash` is the previous entry's hash (a reordered or replaced entry breaks
/// the link), and its stored hash is SHA-256(previous hash || body) (a changed byte breaks it).
/// Stops at the first bad entry. Pure: fed entries one by one, no I/O.
public struct AuditChainVerifier: Sendable {
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The sequence number of the first bad entry (the one expected there for a gap).
        public var sequence: UInt64
        public var what: String
        public var description: String { "entry \(sequence): \(what)" }
    }

    public private(set) var count = 0
    public private(set) var problem: Problem?
    /// The hash of the last good entry (32 zero bytes, in hex, for an empty log).
    public private(set) var headHash = AuditLog.hex(AuditLog.genesisHash)
    private var previous = AuditLog.genesisHash
    private var expected: UInt64 = 0

    public init() {}

    /// Checks the next entry; false once a problem was found (stop feeding then).
    @discardableResult
    public mutating func check(key: some Collection<UInt8>, value: some Collection<UInt8>) -> Bool {
        guard problem == nil else { return false }
        func fail(_ sequence: UInt64, _ what: String) -> Bool {
            problem = Problem(sequence: sequence, what: what)
            return false
        }
        guard key.count == 8 else { return fail(expected, "malformed key of \(key.count) bytes") }
        let sequence = AuditLog.sequence(ofKey: key)
        if sequence > expected {
            return fail(expected, "missing (the next entry found is \(sequence)): deleted")
        }
        guard sequence == expected else { return fail(expected, "out of order: key \(sequence) where \(expected) was expected") }
        let bytes = Array(value)
        guard bytes.count > AuditLog.hashSize else { return fail(sequence, "value of \(bytes.count) bytes is shorter than a hash") }
        let stored: AuditLog.StoredEntry
        do {
            stored = try AuditLog.decode(bytes)
        } catch {
            return fail(sequence, "body does not decode: \(error)")
        }
        guard stored.entry.sequence == sequence else {
            return fail(sequence, "holds the body of entry \(stored.entry.sequence): moved or reordered")
        }
        guard stored.entry.prevHash == AuditLog.hex(previous) else {
            return fail(sequence, "prevHash \(stored.entry.prevHash) is not the previous entry's hash \(AuditLog.hex(previous)): an entry before it was replaced or reordered")
        }
        let body = Array(bytes[AuditLog.hashSize...])
        let computed = AuditLog.chainHash(previous: previous, body: body)
        guard computed == Array(bytes.prefix(AuditLog.hashSize)) else {
            return fail(sequence, "hash mismatch (stored \(stored.hash), computed \(AuditLog.hex(computed))): its content was changed")
        }
        previous = computed
        headHash = AuditLog.hex(computed)
        count += 1
        expected = sequence + 1
        return true
    }

    /// Verifies a whole audit table (nil: no audit log yet, which is a valid empty chain).
    public static func verify(_ table: (some TableReading)?) throws -> AuditChainVerifier {
        var verifier = AuditChainVerifier()
        try table?.forEach(from: []) { key, value in verifier.check(key: key, value: value) }
        return verifier
    }
}

extension AuditLog {
    /// Verifies the audit log of an open store.
    public static func verify(_ store: LogStore) throws -> AuditChainVerifier {
        try store.read { try AuditChainVerifier.verify($0.table(table)) }
    }
}
