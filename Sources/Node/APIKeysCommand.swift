import ArgumentParser
import Foundation
import LogStore
import Logging
import PaymentService

/// `paynode apikeys create|list|revoke`: the payment API's keys, in the service's data
/// directory. With the service stopped the store is opened as usual; while it runs (the
/// directory is locked) the key table is edited alongside it (`SharedApplicationTable`), and
/// the service sees the change within its key cache's second.
struct APIKeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikeys",
        abstract: "Create, list and revoke the payment API's keys (in the service's data directory).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key; prints it once on stdout (only its keyed hash is stored), what it may do on stderr.")

        @OptionGroup var data: DataDirectoryOptions
        @Option(help: "Comma-separated scopes: orders:write (create and read orders), orders:read, admin (every merchant, metrics and health).")
        var scope = "orders:write"
        @Option(help: "The merchant whose orders the key creates and sees (required unless --scope admin).")
        var merchant: String?
        @Option(name: .customLong("expires-in-days"), help: "The key stops working after this many days (default: never).")
        var expiresInDays: Double?
        @Option(name: .customLong("rate-limit"), help: "Requests per second for this key, 0 for none (default: the service's --http-rate-limit).")
        var rateLimit: Double?
        @Option(help: "Burst size of this key's rate limit (default: the service's --http-rate-burst).")
        var burst: Int?
        @Option(help: "A note shown by list (who or what uses the key).")
        var label: String?

        func run() async throws {
            guard let scopes = APIScope.parseList(scope) else {
                throw ValidationError("--scope \(scope): use orders:write, orders:read and/or admin, comma-separated")
            }
            let now = currentUnixMilliseconds()
            var expiresAt: Int64?
            if let expiresInDays {
                guard expiresInDays.isFinite, expiresInDays > 0, expiresInDays <= 36_500 else {
                    throw ValidationError("--expires-in-days must be above 0 and at most 36500")
                }
                expiresAt = now + Int64(expiresInDays * 86_400_000)
            }
            let request = APIKeyStore.Request(scopes: scopes, merchantId: merchant, expiresAt: expiresAt, rateLimit: rateLimit,
                                              rateBurst: burst, label: label)
            if let problem = request.problem { throw ValidationError(problem) }
            let created = try await APIKeyTables(data).create(request, nowMilliseconds: now)
            print(created.key.text)
            FileHandle.standardError.write(Data("""
            created API key \(created.record.prefix)... (\(describe(created.record))). This is the only time the key is shown.
            Use it as: curl -H 'Authorization: Bearer \(created.key.text)' ...

            """.utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys: prefix, scopes, merchant, created, expires, state; never a key.")
        @OptionGroup var data: DataDirectoryOptions

        func run() async throws {
            let records = try APIKeyTables(data).list()
            print(["PREFIX", "SCOPES", "MERCHANT", "CREATED", "EXPIRES", "STATE", "RATE", "LABEL"].joined(separator: "\t"))
            let now = currentUnixMilliseconds()
            for record in records {
                let state = record.revokedAt != nil ? "revoked" : (record.expiresAt.map { $0 <= now } ?? false) ? "expired" : "active"
                print([record.prefix, record.scopes.map(\.rawValue).joined(separator: ","), record.merchantId ?? "*",
                       timestamp(record.createdAt), record.expiresAt.map(timestamp) ?? "never", state,
                       record.rateLimit.map { $0 == 0 ? "none" : "\($0)/s" } ?? "default", record.label ?? ""].joined(separator: "\t"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by its prefix (as list shows it); it then answers 401.")
        @OptionGroup var data: DataDirectoryOptions
        @Argument(help: "The key's 12-character prefix, pk_...") var prefix: String

        func run() async throws {
            guard APIKey.isPrefix(prefix) else { throw ValidationError("\(prefix) is not a key prefix (pk_ and 9 letters or digits)") }
            guard try await APIKeyTables(data).revoke(prefix: prefix, nowMilliseconds: currentUnixMilliseconds()) else {
                throw ValidationError("no API key \(prefix)")
            }
            print("revoked \(prefix)")
        }
    }
}

private func describe(_ record: APIKeyRecord) -> String {
    var parts = ["scopes " + record.scopes.map(\.rawValue).joined(separator: ","), "merchant " + (record.merchantId ?? "* (every merchant)")]
    if let expiresAt = record.expiresAt { parts.append("expires " + timestamp(expiresAt)) }
    if let rateLimit = record.rateLimit { parts.append(rateLimit == 0 ? "no rate limit" : "\(rateLimit) requests/s") }
    return parts.joined(separator: ", ")
}

private func timestamp(_ milliseconds: Int64) -> String {
    let formatter = ISO8601DateFormatter()
    return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
}

func currentUnixMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

/// The key tables of a data directory: through the store when no node holds it, else
/// alongside the running node.
struct APIKeyTables {
    let data: DataDirectoryOptions

    init(_ data: DataDirectoryOptions) { self.data = data }

    func create(_ request: APIKeyStore.Request, nowMilliseconds: Int64) async throws -> APIKeyStore.Created {
        try await withStore(
            own: { store in try await APIKeyStore.create(request, in: store, nowMilliseconds: nowMilliseconds) },
            shared: { directory, configuration in
                let secret = try SharedApplicationTable.write(directory: directory, configuration: configuration, table: APIKeyStore.secretTable) {
                    try APIKeyStore.secretBytes(in: $0, put: $1)
                }
                return try SharedApplicationTable.write(directory: directory, configuration: configuration, table: APIKeyStore.table) {
                    try APIKeyStore.create(request, keys: $0, put: $1, secret: secret, nowMilliseconds: nowMilliseconds)
                }
            })
    }

    func list() throws -> [APIKeyRecord] {
        // Reading alongside a running node is a write transaction that writes nothing.
        try withStoreSync(
            own: { try APIKeyStore.list(in: $0) },
            shared: { directory, configuration in
                try SharedApplicationTable.write(directory: directory, configuration: configuration, table: APIKeyStore.table) { table, _ in
                    try APIKeyStore.list(table)
                }
            })
    }

    func revoke(prefix: String, nowMilliseconds: Int64) async throws -> Bool {
        try await withStore(
            own: { try await APIKeyStore.revoke(prefix: prefix, in: $0, nowMilliseconds: nowMilliseconds) },
            shared: { directory, configuration in
                try SharedApplicationTable.write(directory: directory, configuration: configuration, table: APIKeyStore.table) {
                    try APIKeyStore.revoke(prefix: prefix, keys: $0, put: $1, nowMilliseconds: nowMilliseconds)
                }
            })
    }

    /// Warnings only, on stderr: stdout carries the key.
    private static var logger: Logger {
        var logger = Logger(label: "paynode.logstore") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }

    private func withStore<T>(own: (LogStore) async throws -> T, shared: (String, LogStoreConfiguration) throws -> T) async throws -> T {
        let configuration = try data.storeConfiguration()
        let store: LogStore
        do {
            store = try LogStore(configuration: configuration, logger: Self.logger)
        } catch where error.code == .dataDirectoryInUse {
            return try shared(configuration.dataDirectory, configuration)
        }
        defer { store.close() }
        return try await own(store)
    }

    private func withStoreSync<T>(own: (LogStore) throws -> T, shared: (String, LogStoreConfiguration) throws -> T) throws -> T {
        let configuration = try data.storeConfiguration()
        let store: LogStore
        do {
            store = try LogStore(configuration: configuration, logger: Self.logger)
        } catch where error.code == .dataDirectoryInUse {
            return try shared(configuration.dataDirectory, configuration)
        }
        defer { store.close() }
        return try own(store)
    }
}
