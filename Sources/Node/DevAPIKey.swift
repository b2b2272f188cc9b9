import ArgumentParser
import Foundation
import LogStore
import PaymentService

/// `paynode dev`'s API key: an admin key without a rate limit, made on first start and kept in
/// `<root>/api-key` (mode 0600) for curl, the demo and `loadtest --target-http`. A key file
/// whose key the store no longer knows (the service's directory was wiped) is replaced.
enum DevAPIKey {
    static func ensure(root: String, serviceDirectory: String) async throws -> String {
        let path = root + "/api-key"
        let tables = APIKeyTables(try DataDirectoryOptions.parse(["--data-dir", serviceDirectory]))
        if let text = try? String(contentsOfFile: path, encoding: .utf8),
           let key = APIKey(text.trimmingCharacters(in: .whitespacesAndNewlines)),
           try tables.list().contains(where: { $0.prefix == key.prefix && $0.revokedAt == nil }) {
            return key.text
        }
        let created = try await tables.create(.init(scopes: [.admin], merchantId: nil, rateLimit: 0, label: "paynode dev"),
                                              nowMilliseconds: currentUnixMilliseconds())
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data((created.key.text + "\n").utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write the dev API key to \(path)")
        }
        print("paynode dev: created an admin API key \(created.record.prefix)... in \(path)")
        return created.key.text
    }
}
