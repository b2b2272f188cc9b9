import Foundation
import KafkaClient
import KafkaClientTLS
import NIOSSL
import Protocol
import TLSSupport

/// How the cluster loadtest starts is secured (`--cluster-security`, `--tls`): the service's
/// Kafka listener, the development certificates and SCRAM users it needs, and as whom each
/// client connects.
///
/// Without SASL every Kafka client is User:ANONYMOUS, made the executor principal and a super
/// user (the checker reads psp-result-updates and the service's group). With SASL nobody is
/// anonymous: the executor is `User:executor`, the service's `--executor-principal`, whose
/// producer ids alone have their results applied (so pipeline mode's result producer
/// authenticates as it too), and loadtest's other clients (tail, checker, poison, recovery
/// fill) are `User:loadtest`, the only super user.
struct ClusterSecurity: Sendable {
    let listener: KafkaSecurityProtocol
    /// Development certificates in `WORK_DIR/certs` (as `paynode certs init`), when the
    /// listener uses TLS; the payment API is then HTTPS with the same certificate.
    let certificates: DevelopmentCertificates.Layout?
    /// The CA the executor and loadtest's clients verify the service against.
    let caFile: String?
    /// Each SCRAM user's password file, when the listener uses SASL.
    let passwordFiles: [String: String]

    static let executorUser = "executor"
    static let loadtestUser = "loadtest"
    static let mechanism = SaslMechanism.scramSHA512

    /// Today's default: PLAINTEXT Kafka and HTTP, nothing written.
    static let plaintext = ClusterSecurity(listener: .plaintext, certificates: nil, caFile: nil, passwordFiles: [:])

    /// Writes what `listener` needs under `root` before the service first starts: certificates
    /// (unless a complete set is there) and, for SASL, both users in the service's data
    /// directory with `paynode users add` (new random passwords each run, files 0600).
    static func prepare(_ listener: KafkaSecurityProtocol, root: String, binary: String, caFile: String?) throws -> ClusterSecurity {
        var certificates: DevelopmentCertificates.Layout?
        if listener.usesTLS {
            let layout = DevelopmentCertificates.Layout(directory: root + "/certs")
            if !layout.isComplete { try DevelopmentCertificates.write(into: layout, overwrite: true) }
            certificates = layout
        }
        var passwordFiles: [String: String] = [:]
        if listener.usesSASL {
            let directory = root + "/credentials"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            for user in [executorUser, loadtestUser] {
                let file = "\(directory)/\(user).password"
                try writePassword(to: file)
                try runPaynode(binary, ["users", "add", "--data-dir", root + "/service", "--name", user, "--password-file", file])
                passwordFiles[user] = file
            }
        }
        return ClusterSecurity(listener: listener, certificates: certificates,
                               caFile: certificates.map { caFile ?? $0.caCertificate }, passwordFiles: passwordFiles)
    }

    var executorPrincipal: String { listener.usesSASL ? "User:\(Self.executorUser)" : "User:ANONYMOUS" }
    var superUser: String { listener.usesSASL ? "User:\(Self.loadtestUser)" : "User:ANONYMOUS" }

    /// `paynode service`'s listener, certificate and principals.
    var serviceArguments: [String] {
        var arguments = ["--executor-principal", executorPrincipal, "--super-users", superUser]
        if listener != .plaintext { arguments += ["--kafka-security-protocol", listener.rawValue] }
        if let certificates {
            arguments += ["--http-tls", "--tls-cert-file", certificates.serverCertificate, "--tls-key-file", certificates.serverKey]
        }
        return arguments
    }

    /// How `paynode executor` reaches that listener, as `User:executor` with SASL.
    var executorArguments: [String] {
        var arguments: [String] = []
        if listener != .plaintext { arguments += ["--kafka-security-protocol", listener.rawValue] }
        if let caFile { arguments += ["--tls-ca-file", caFile] }
        if let file = passwordFiles[Self.executorUser] {
            arguments += ["--sasl-mechanism", Self.mechanism.rawValue, "--sasl-username", Self.executorUser, "--sasl-password-file", file]
        }
        return arguments
    }

    /// What loadtest's HTTP and Kafka clients trust, when the cluster serves TLS
    /// (`applicationProtocols`: ALPN, `h2` for the HTTP/2 client).
    func clientTLS(applicationProtocols: [String] = []) throws -> NIOSSLContext? {
        guard let caFile else { return nil }
        return try ClientTLSFiles(caFile: caFile).makeContext(applicationProtocols: applicationProtocols)
    }

    /// A Kafka connection of loadtest's own to the listener, authenticated as `user` with SASL.
    func connection(as user: String, tls: NIOSSLContext?) throws -> KafkaConnection.Configuration {
        var configuration = KafkaConnection.Configuration()
        configuration.securityProtocol = listener
        configuration.transportSecurity = listener.usesTLS ? tls.map(NIOSSLTransportSecurity.init(context:)) : nil
        if listener.usesSASL {
            guard let file = passwordFiles[user] else {
                throw NodeProcessError(description: "no password file for SASL user \(user)")
            }
            configuration.sasl = KafkaSaslCredentials(mechanism: Self.mechanism, username: user,
                                                      password: try KafkaSecurityOptionParsing.password(fromFile: file))
        }
        return configuration
    }

    /// 32 random bytes from the system CSPRNG, as 64 hex digits and a newline.
    private static func writePassword(to file: String) throws {
        var generator = SystemRandomNumberGenerator()
        let password = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        try? FileManager.default.removeItem(atPath: file)
        guard FileManager.default.createFile(atPath: file, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw NodeProcessError(description: "cannot write \(file)")
        }
    }

    /// Runs a `paynode` admin command to completion; its output goes to the error with a failure.
    private static func runPaynode(_ binary: String, _ arguments: [String]) throws {
        let (status, output) = try PaynodeCommand.run(binary, arguments, withErrors: true)
        guard status == 0 else {
            throw NodeProcessError(description: "paynode \(arguments.prefix(2).joined(separator: " ")) failed (status \(status)): \(output)")
        }
    }
}
