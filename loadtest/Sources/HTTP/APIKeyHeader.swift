import Foundation
import Synchronization

/// The `Authorization` value every request of this run carries (the service requires an API
/// key): set once at start, before any client or driver is made, and copied by each at init
/// so the hot path takes no lock.
enum APIKeyHeader {
    private static let key = Mutex<String?>(nil)

    static func use(_ apiKey: String?) { key.withLock { $0 = apiKey } }

    /// `Bearer pk_...`, or nil when the run has no key (a service started with --http-auth off).
    static var value: String? { key.withLock { $0.map { "Bearer \($0)" } } }

    /// The key `paynode dev` keeps in its data directory (default ./data/dev), if there is one.
    static func devKey(root: String? = nil) -> String? {
        let directory = root ?? ProcessInfo.processInfo.environment["PAYNODE_DATA_DIR"] ?? "./data/dev"
        guard let text = try? String(contentsOfFile: directory + "/api-key", encoding: .utf8) else { return nil }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return key.isEmpty ? nil : key
    }

    /// A new admin key without a rate limit in the (stopped or running) service's data
    /// directory, made with `paynode apikeys create`.
    static func create(binary: String, dataDirectory: String) throws -> String {
        let (status, output) = try PaynodeCommand.run(binary, [
            "apikeys", "create", "--data-dir", dataDirectory, "--scope", "admin", "--rate-limit", "0", "--label", "loadtest",
        ], withErrors: false)
        let key = output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0, key.hasPrefix("pk_") else {
            throw CheckerError("paynode apikeys create in \(dataDirectory) failed (status \(status))")
        }
        return key
    }
}
