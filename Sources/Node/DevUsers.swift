import ArgumentParser
import Foundation
import KafkaBroker
import LogStore
import PaymentService
import Protocol

/// `paynode dev`'s SASL users, made on first start in the service's store: `executor` (the
/// default executor principal, whose results alone are applied), `ledger` (reads
/// payment-events for `paynode ledger`) and `dev` (for kcat and other
/// clients of a developer). Passwords are random, kept in `<root>/credentials/NAME.password`
/// (mode 0600); the store holds only their SCRAM keys. A user whose password file is missing is
/// given a new password.
enum DevUsers {
    static let names = ["executor", "ledger", "dev"]

    /// The password file of each user, after making the missing ones. Runs before the service
    /// starts: the store is locked while it runs.
    static func ensure(root: String, serviceDirectory: String) async throws -> [String: String] {
        let directory = root + "/credentials"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        var files: [String: String] = [:]
        var missing: [(String, [UInt8])] = []
        for name in names {
            let path = "\(directory)/\(name).password"
            files[name] = path
            if FileManager.default.fileExists(atPath: path) { continue }
            let password = Base62.random(count: 32)  // about 190 bits, from the system CSPRNG
            guard FileManager.default.createFile(atPath: path, contents: Data(password + [0x0A]), attributes: [.posixPermissions: 0o600]) else {
                throw ValidationError("cannot write \(path)")
            }
            missing.append((name, password))
        }
        guard !missing.isEmpty else { return files }
        let store = try DataDirectoryOptions.parse(["--data-dir", serviceDirectory]).openStore()
        defer { store.close() }
        for (name, password) in missing {
            let credentials = StoredScramCredentials(credentials: [ScramHash.sha256, .sha512].map {
                ScramCredential(hash: $0, password: password, salt: ScramCredential.randomSalt(), iterations: ScramCredential.defaultIterations)
            })
            try await SaslCredentialStore.put(name, credentials, in: store)
        }
        print("paynode dev: created SASL users \(missing.map(\.0).joined(separator: ", ")) (passwords in \(directory))")
        return files
    }
}
