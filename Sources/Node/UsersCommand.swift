import ArgumentParser
import Foundation
import KafkaBroker
import LogStore
import Protocol

/// `paynode users add|remove|list`: the SASL/SCRAM users of a stopped node's data directory
/// (the store is locked while a node runs, as for `paynode store`). Only salts, iteration
/// counts and the derived keys are stored; passwords are read from a file or stdin, never from
/// the command line, and never printed.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage the SASL users of a stopped node's data directory.",
        subcommands: [Add.self, Remove.self, List.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user, or replace its credentials (password from --password-file or stdin).")
        @OptionGroup var options: DataDirectoryOptions

        @Option(name: .customLong("name"), help: "User name (the principal is User:NAME).")
        var name: String

        @Option(name: .customLong("mechanism"), help: "SCRAM-SHA-256 or SCRAM-SHA-512; repeat for both (default both).")
        var mechanisms: [String] = []

        @Option(name: .customLong("iterations"), help: "SCRAM iterations (default 8192, minimum 4096).")
        var iterations: Int = ScramCredential.defaultIterations

        @Option(name: .customLong("password-file"), help: "File whose first line is the password (default: read stdin).")
        var passwordFile: String?

        func validate() throws {
            guard !name.isEmpty, name.utf8.count <= SaslCredentialStore.maximumNameLength,
                  !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw ValidationError("--name must be 1 to \(SaslCredentialStore.maximumNameLength) bytes without control characters")
            }
            guard (ScramCredential.minimumIterations...ScramCredential.maximumIterations).contains(iterations) else {
                throw ValidationError("--iterations must be \(ScramCredential.minimumIterations) to \(ScramCredential.maximumIterations)")
            }
        }

        func run() async throws {
            let hashes = try resolvedHashes()
            let password = try readPassword()
            let store = try options.openStore()
            defer { store.close() }
            let credentials = StoredScramCredentials(credentials: hashes.map {
                ScramCredential(hash: $0, password: password, salt: ScramCredential.randomSalt(), iterations: iterations)
            })
            try await SaslCredentialStore.put(name, credentials, in: store)
            print("user \(name): \(credentials.mechanisms.map(\.rawValue).joined(separator: ","))  iterations=\(iterations)")
        }

        private func resolvedHashes() throws -> [ScramHash] {
            guard !mechanisms.isEmpty else { return [.sha256, .sha512] }
            var hashes: [ScramHash] = []
            for text in mechanisms {
                guard let hash = SaslMechanism(parsing: text)?.scramHash else {
                    throw ValidationError("--mechanism \(text) must be SCRAM-SHA-256 or SCRAM-SHA-512")
                }
                if !hashes.contains(hash) { hashes.append(hash) }
            }
            return hashes
        }

        /// The first line of the file or of stdin, without its line ending.
        private func readPassword() throws -> [UInt8] {
            let data: Data
            if let passwordFile {
                guard let contents = FileManager.default.contents(atPath: passwordFile) else {
                    throw ValidationError("cannot read --password-file \(passwordFile)")
                }
                data = contents
            } else {
                data = FileHandle.standardInput.readDataToEndOfFile()
            }
            let line = Array(data.prefix { $0 != 0x0A && $0 != 0x0D })
            guard !line.isEmpty else { throw ValidationError("the password is empty") }
            guard line.count <= 1024 else { throw ValidationError("the password is longer than 1024 bytes") }
            return line
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user.")
        @OptionGroup var options: DataDirectoryOptions

        @Option(name: .customLong("name"), help: "User name.")
        var name: String

        func run() async throws {
            let store = try options.openStore()
            defer { store.close() }
            guard try await SaslCredentialStore.remove(name, in: store) else {
                throw ValidationError("no user \(name)")
            }
            print("removed user \(name)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users and their mechanisms (never secrets).")
        @OptionGroup var options: DataDirectoryOptions

        func run() async throws {
            let store = try options.openStore()
            defer { store.close() }
            for user in try SaslCredentialStore.list(in: store) {
                print("\(user.name)  \(user.mechanisms.map(\.rawValue).joined(separator: ","))")
            }
        }
    }
}
