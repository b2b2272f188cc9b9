import ArgumentParser
import Foundation
import KafkaClient
import Protocol

/// How loadtest's own Kafka clients reach a secured listener (a running service given by
/// `--target-kafka`; a cluster loadtest starts is secured by `--cluster-security` and `--tls`):
/// `--kafka-security-protocol` and, for SASL_*, the mechanism, user and a password file.
struct LoadtestKafkaSecurityOptions: ParsableArguments {
    @Option(name: .customLong("kafka-security-protocol"), help: "The broker listener's security: PLAINTEXT or SASL_PLAINTEXT (env: PAYNODE_KAFKA_SECURITY_PROTOCOL; default PLAINTEXT).")
    var securityProtocol: String?

    @Option(name: .customLong("sasl-mechanism"), help: "SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (env: PAYNODE_SASL_MECHANISM; default SCRAM-SHA-512).")
    var mechanism: String?

    @Option(name: .customLong("sasl-username"), help: "SASL user (env: PAYNODE_SASL_USERNAME).")
    var username: String?

    @Option(name: .customLong("sasl-password-file"), help: "File whose first line is the SASL password (env: PAYNODE_SASL_PASSWORD_FILE).")
    var passwordFile: String?

    /// Whether any of these options was given on the command line.
    var isGiven: Bool { securityProtocol != nil || mechanism != nil || username != nil || passwordFile != nil }

    /// `configuration` with the security protocol and credentials applied.
    func apply(to configuration: inout KafkaConnection.Configuration) throws {
        let text = flagOrEnvironment(securityProtocol, "PAYNODE_KAFKA_SECURITY_PROTOCOL") ?? "PLAINTEXT"
        guard let parsed = KafkaSecurityProtocol(parsing: text) else {
            throw ValidationError("--kafka-security-protocol \(text) must be one of \(KafkaSecurityProtocol.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // SSL / SASL_SSL: the TLS context comes from --tls / --tls-ca-file.
        configuration.securityProtocol = parsed
        guard parsed.usesSASL else { return }
        let mechanismText = flagOrEnvironment(mechanism, "PAYNODE_SASL_MECHANISM") ?? "SCRAM-SHA-512"
        guard let parsedMechanism = SaslMechanism(parsing: mechanismText) else {
            throw ValidationError("--sasl-mechanism \(mechanismText) must be one of \(SaslMechanism.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let user = flagOrEnvironment(username, "PAYNODE_SASL_USERNAME"), !user.isEmpty else {
            throw ValidationError("--kafka-security-protocol \(parsed) needs --sasl-username (or PAYNODE_SASL_USERNAME)")
        }
        guard let file = flagOrEnvironment(passwordFile, "PAYNODE_SASL_PASSWORD_FILE") else {
            throw ValidationError("--kafka-security-protocol \(parsed) needs --sasl-password-file (or PAYNODE_SASL_PASSWORD_FILE)")
        }
        guard let contents = FileManager.default.contents(atPath: file) else {
            throw ValidationError("cannot read --sasl-password-file \(file)")
        }
        let password = Array(contents.prefix { $0 != 0x0A && $0 != 0x0D })
        guard !password.isEmpty else { throw ValidationError("--sasl-password-file \(file) holds an empty password") }
        configuration.sasl = KafkaSaslCredentials(mechanism: parsedMechanism, username: user, password: password)
    }
}

/// The flag's value, else the environment variable's.
private func flagOrEnvironment(_ flag: String?, _ variable: String) -> String? {
    flag ?? ProcessInfo.processInfo.environment[variable]
}
