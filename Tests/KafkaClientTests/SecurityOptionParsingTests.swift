import Foundation
import KafkaClient
import Protocol
import Testing

/// The client security flags paynode and loadtest share: defaults, accepted spellings, and the
/// message for each wrong value.
struct SecurityOptionParsingTests {
    private func passwordFile(_ contents: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("paynode-password-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: path, contents: Data(contents)) else {
            throw KafkaSecurityOptionError("cannot write \(path)")
        }
        return path
    }

    /// The message `body` fails with; nil when it does not fail or fails otherwise.
    private func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as KafkaSecurityOptionError {
            return error.message
        } catch {
            return nil
        }
    }

    @Test func securityProtocolDefaultsToPlaintextAndNamesTheChoicesWhenWrong() throws {
        #expect(try KafkaSecurityOptionParsing.securityProtocol(nil) == .plaintext)
        #expect(try KafkaSecurityOptionParsing.securityProtocol("sasl_ssl") == .saslSSL)
        #expect(message { _ = try KafkaSecurityOptionParsing.securityProtocol("TLS") }
            == "--kafka-security-protocol TLS must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL")
    }

    @Test func mechanismDefaultsToScramSha512AndNamesTheChoicesWhenWrong() throws {
        #expect(try KafkaSecurityOptionParsing.mechanism(nil) == .scramSHA512)
        #expect(try KafkaSecurityOptionParsing.mechanism("scram-sha-256") == .scramSHA256)
        #expect(try KafkaSecurityOptionParsing.mechanism("PLAIN") == .plain)
        #expect(message { _ = try KafkaSecurityOptionParsing.mechanism("GSSAPI") }
            == "--sasl-mechanism GSSAPI must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
    }

    @Test func passwordIsTheFirstLineWithoutItsLineEnding() throws {
        let unix = try passwordFile(Array("s3cret\nsecond line\n".utf8))
        let windows = try passwordFile(Array("pa ss\r\n".utf8))
        let bare = try passwordFile(Array("no-newline".utf8))
        defer { for path in [unix, windows, bare] { try? FileManager.default.removeItem(atPath: path) } }
        #expect(try KafkaSecurityOptionParsing.password(fromFile: unix) == Array("s3cret".utf8))
        #expect(try KafkaSecurityOptionParsing.password(fromFile: windows) == Array("pa ss".utf8))
        #expect(try KafkaSecurityOptionParsing.password(fromFile: bare) == Array("no-newline".utf8))
    }

    @Test func emptyOrMissingPasswordFileIsRefused() throws {
        let empty = try passwordFile(Array("\nsecond\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(message { _ = try KafkaSecurityOptionParsing.password(fromFile: empty) }
            == "--sasl-password-file \(empty) holds an empty password")
        let missing = empty + "-missing"
        #expect(message { _ = try KafkaSecurityOptionParsing.password(fromFile: missing) }
            == "cannot read --sasl-password-file \(missing)")
    }

    @Test func credentialsNeedAUserAndAPasswordFile() throws {
        let file = try passwordFile(Array("pw\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let credentials = try KafkaSecurityOptionParsing.credentials(for: .saslPlaintext, mechanism: "SCRAM-SHA-256",
                                                                     username: "executor", passwordFile: file)
        #expect(credentials.mechanism == .scramSHA256)
        #expect(credentials.username == "executor")
        #expect(credentials.password == Array("pw".utf8))
        #expect(message { _ = try KafkaSecurityOptionParsing.credentials(for: .saslSSL, mechanism: nil, username: "", passwordFile: file) }
            == "--kafka-security-protocol SASL_SSL needs --sasl-username (or PAYNODE_SASL_USERNAME)")
        #expect(message { _ = try KafkaSecurityOptionParsing.credentials(for: .saslSSL, mechanism: nil, username: "u", passwordFile: nil) }
            == "--kafka-security-protocol SASL_SSL needs --sasl-password-file (or PAYNODE_SASL_PASSWORD_FILE)")
        #expect(message { _ = try KafkaSecurityOptionParsing.credentials(for: .saslSSL, mechanism: "NOPE", username: "u", passwordFile: file) }
            == "--sasl-mechanism NOPE must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
    }
}
