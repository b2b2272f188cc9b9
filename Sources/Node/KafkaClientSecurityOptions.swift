import ArgumentParser
import Foundation
import KafkaClient
import KafkaClientTLS
import Protocol

/// How the node's Kafka clients (executor, admin commands) reach a secured listener:
/// `--kafka-security-protocol` and, for SASL_*, the mechanism, user and a password file.
struct KafkaClientSecurityOptions: ParsableArguments {
    @Option(name: .customLong("kafka-security-protocol"), help: "The broker listener's security: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (env: PAYNODE_KAFKA_SECURITY_PROTOCOL; default PLAINTEXT).")
    var securityProtocol: String?

    @Option(name: .customLong("sasl-mechanism"), help: "SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (env: PAYNODE_SASL_MECHANISM; default SCRAM-SHA-512).")
    var mechanism: String?

    @Option(name: .customLong("sasl-username"), help: "SASL user (env: PAYNODE_SASL_USERNAME).")
    var username: String?

    @Option(name: .customLong("sasl-password-file"), help: "File whose first line is the SASL password (env: PAYNODE_SASL_PASSWORD_FILE).")
    var passwordFile: String?

    @OptionGroup var tls: ClientTLSOptions

    /// `configuration` with the security protocol and credentials applied.
    func apply(to configuration: inout KafkaConnection.Configuration) throws {
        do {
            let parsed = try KafkaSecurityOptionParsing.securityProtocol(EnvironmentOption.string(securityProtocol, "PAYNODE_KAFKA_SECURITY_PROTOCOL"))
            configuration.securityProtocol = parsed
            if parsed.usesTLS { configuration.transportSecurity = NIOSSLTransportSecurity(context: try tls.context()) }
            guard parsed.usesSASL else { return }
            configuration.sasl = try KafkaSecurityOptionParsing.credentials(
                for: parsed, mechanism: EnvironmentOption.string(mechanism, "PAYNODE_SASL_MECHANISM"),
                username: EnvironmentOption.string(username, "PAYNODE_SASL_USERNAME"),
                passwordFile: EnvironmentOption.string(passwordFile, "PAYNODE_SASL_PASSWORD_FILE"))
        } catch let error as KafkaSecurityOptionError {
            throw ValidationError(error.message)
        }
    }
}
