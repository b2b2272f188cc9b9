import LogStore
import Protocol

/// SASL/SCRAM credentials in the node's store: the application table `sasl_credentials`, user
/// name (UTF-8) -> `StoredScramCredentials` (salt, iterations, StoredKey, ServerKey per
/// mechanism). Passwords are never stored.
package enum SaslCredentialStore {
    static let tableName = "broker.sasl_credentials"
    /// Kafka's limit on a SCRAM user name is its principal; 255 bytes keeps keys small.
    package static let maximumNameLength = 255

    static func credentials(of name: String, in store: LogStore) -> StoredScramCredentials? {
        let key = Array(name.utf8)
        guard !key.isEmpty, key.count <= maximumNameLength else { return nil }
        do {
            return try store.read { transaction -> StoredScramCredentials? in
                guard let bytes = try transaction.table(tableName)?.get(key) else { return nil }
                return StoredScramCredentials(decoding: bytes)
            }
        } catch {
            return nil
        }
    }

    /// `sasl_secrets`: the key unknown users' fake salts derive from, so that a name's salt is
    /// the same across restarts whether or not the user exists.
    static let secretsTableName = "broker.sasl_secrets"
    private static let fakeSaltKeyName = Array("fake-salt-key".utf8)

    /// The stored fake-salt key, nil when no user was ever added (the broker then uses a fresh one).
    static func fakeSaltKey(in store: LogStore) -> [UInt8]? {
        let key = try? store.read { transaction -> [UInt8]? in
            try transaction.table(secretsTableName)?.get(fakeSaltKeyName)
        }
        return key.flatMap { $0 }.flatMap { $0.count == 32 ? $0 : nil }
    }

    /// Stores the user's credentials, and the fake-salt key if there is none yet.
    package static func put(_ name: String, _ credentials: StoredScramCredentials, in store: LogStore) async throws {
        let freshKey = ScramServer.randomFakeSaltKey()
        try await store.write { transaction in
            try transaction.table(tableName).put(Array(name.utf8), credentials.encoded())
            let secrets = try transaction.table(secretsTableName)
            if try secrets.get(fakeSaltKeyName) == nil { try secrets.put(fakeSaltKeyName, freshKey) }
        }
    }

    /// Whether the user existed.
    package static func remove(_ name: String, in store: LogStore) async throws -> Bool {
        try await store.write { transaction in
            try transaction.table(tableName).delete(Array(name.utf8))
        }
    }

    package static func list(in store: LogStore) throws -> [(name: String, mechanisms: [SaslMechanism])] {
        try store.read { transaction in
            guard let table = transaction.table(tableName) else { return [] }
            return try table.scan().map { entry in
                (String(decoding: entry.key, as: UTF8.self), StoredScramCredentials(decoding: entry.value)?.mechanisms ?? [])
            }
        }
    }
}
