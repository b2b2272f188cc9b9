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
        do {
            // SSL / SASL_SSL: the TLS context comes from --tls / --tls-ca-file (LoadtestRun).
            let parsed = try KafkaSecurityOptionParsing.securityProtocol(flagOrEnvironment(securityProtocol, "PAYNODE_KAFKA_SECURITY_PROTOCOL"))
            configuration.securityProtocol = parsed
            guard parsed.usesSASL else { return }
            configuration.sasl = try KafkaSecurityOptionParsing.credentials(
                for: parsed, mechanism: flagOrEnvironment(mechanism, "PAYNODE_SASL_MECHANISM"),
                username: flagOrEnvironment(username, "PAYNODE_SASL_USERNAME"),
                passwordFile: flagOrEnvironment(passwordFile, "PAYNODE_SASL_PASSWORD_FILE"))
        } catch {
            throw ValidationError(error.message)
        }
    }
}

/// The flag's value, else the environment variable's.
private func flagOrEnvironment(_ flag: String?, _ variable: String) -> String? {
    flag ?? ProcessInfo.processInfo.environment[variable]
}
