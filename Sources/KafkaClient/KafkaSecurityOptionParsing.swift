import Foundation
import Protocol

/// A security flag's value that cannot be used; `message` names the flag and what it accepts.
public struct KafkaSecurityOptionError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// What paynode's and loadtest's client flags `--kafka-security-protocol`, `--sasl-mechanism`,
/// `--sasl-username` and `--sasl-password-file` mean, parsed in one place so that both commands
/// accept the same values and say the same thing about the wrong ones. The callers resolve each
/// value from its flag or environment variable first.
public enum KafkaSecurityOptionParsing {
    /// `--kafka-security-protocol`; nil is PLAINTEXT.
    public static func securityProtocol(_ text: String?) throws(KafkaSecurityOptionError) -> KafkaSecurityProtocol {
        let text = text ?? KafkaSecurityProtocol.plaintext.rawValue
        guard let parsed = KafkaSecurityProtocol(parsing: text) else {
            throw KafkaSecurityOptionError("--kafka-security-protocol \(text) must be one of \(KafkaSecurityProtocol.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return parsed
    }

    /// `--sasl-mechanism`; nil is SCRAM-SHA-512.
    public static func mechanism(_ text: String?) throws(KafkaSecurityOptionError) -> SaslMechanism {
        let text = text ?? SaslMechanism.scramSHA512.rawValue
        guard let parsed = SaslMechanism(parsing: text) else {
            throw KafkaSecurityOptionError("--sasl-mechanism \(text) must be one of \(SaslMechanism.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return parsed
    }

    /// The credentials a SASL_* `securityProtocol` needs: the mechanism, a non-empty user, and
    /// the first line of the password file (without its line ending), which must not be empty.
    public static func credentials(for securityProtocol: KafkaSecurityProtocol, mechanism: String?, username: String?,
                                   passwordFile: String?) throws(KafkaSecurityOptionError) -> KafkaSaslCredentials {
        let parsedMechanism = try self.mechanism(mechanism)
        guard let username, !username.isEmpty else {
            throw KafkaSecurityOptionError("--kafka-security-protocol \(securityProtocol) needs --sasl-username (or PAYNODE_SASL_USERNAME)")
        }
        guard let passwordFile else {
            throw KafkaSecurityOptionError("--kafka-security-protocol \(securityProtocol) needs --sasl-password-file (or PAYNODE_SASL_PASSWORD_FILE)")
        }
        return KafkaSaslCredentials(mechanism: parsedMechanism, username: username, password: try password(fromFile: passwordFile))
    }

    /// The first line of `path`, which must not be empty: a file written by `echo` or an editor
    /// ends in a newline that is no part of the password.
    public static func password(fromFile path: String) throws(KafkaSecurityOptionError) -> [UInt8] {
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw KafkaSecurityOptionError("cannot read --sasl-password-file \(path)")
        }
        let password = Array(contents.prefix { $0 != 0x0A && $0 != 0x0D })
        guard !password.isEmpty else { throw KafkaSecurityOptionError("--sasl-password-file \(path) holds an empty password") }
        return password
    }
}
