import ArgumentParser
import Foundation
import PaymentService

/// `paynode audit verify`: checks the service's hash-chained audit trail offline.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check the payment service's audit trail.",
        subcommands: [Verify.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the whole audit chain; print the entry count and head hash, or the first bad entry (exit 1).",
            discussion: """
            The data directory is opened like `paynode store` does, which takes its lock: stop the node \
            first, or verify a copy of a stopped node's directory (or a `paynode store backup`). Nothing is \
            written to the audit log. Compare the printed head hash with one recorded earlier (--expect-head) \
            to detect a rewrite of the whole chain.
            """)
        @OptionGroup var options: DataDirectoryOptions
        @Option(name: .customLong("expect-head"), help: "Fail unless the chain's head hash (hex) is this one.")
        var expectedHead: String?

        func run() async throws {
            let directory = options.resolvedDataDirectory
            guard FileManager.default.fileExists(atPath: directory + "/data.mdb") else {
                throw ValidationError("no store in \(directory) (data.mdb is missing)")
            }
            let store = try options.openStore()
            defer { store.close() }
            let result = try AuditLog.verify(store)
            if let problem = result.problem {
                print("audit chain BROKEN at entry \(problem.sequence): \(problem.what)")
                print("entries verified before it: \(result.count), last good hash \(result.headHash)")
                throw ExitCode(1)
            }
            print("audit chain OK: \(result.count) entries, head hash \(result.headHash)")
            if let expectedHead, expectedHead.lowercased() != result.headHash {
                print("audit head MISMATCH: expected \(expectedHead.lowercased()), found \(result.headHash)")
                throw ExitCode(1)
            }
        }
    }
}
