import ArgumentParser
import NIOSSL
import TLSSupport

/// The TLS flags of commands that connect to a broker (executor, admin commands): the CA that
/// the broker's certificate must chain to, and for mutual TLS this side's own certificate.
struct ClientTLSOptions: ParsableArguments {
    @Option(name: .customLong("tls-ca-file"), help: "PEM CA certificates to verify the broker's TLS certificate with (env: PAYNODE_TLS_CA_FILE; default: the system's trust store).")
    var caFile: String?

    @Option(name: .customLong("tls-client-cert-file"), help: "PEM certificate this side presents to a mutual TLS broker (env: PAYNODE_TLS_CLIENT_CERT_FILE).")
    var certificateChainFile: String?

    @Option(name: .customLong("tls-client-key-file"), help: "PEM private key of --tls-client-cert-file (env: PAYNODE_TLS_CLIENT_KEY_FILE).")
    var privateKeyFile: String?

    func files() throws -> ClientTLSFiles {
        do {
            return try ClientTLSFiles.validated(caFile: EnvironmentOption.string(caFile, "PAYNODE_TLS_CA_FILE"),
                                                certificateChainFile: EnvironmentOption.string(certificateChainFile, "PAYNODE_TLS_CLIENT_CERT_FILE"),
                                                privateKeyFile: EnvironmentOption.string(privateKeyFile, "PAYNODE_TLS_CLIENT_KEY_FILE"))
        } catch let error as TLSConfigurationError {
            throw ValidationError(error.message)
        }
    }

    /// The client context, loaded once: every connection of the process shares it.
    func context() throws -> NIOSSLContext {
        do {
            return try files().makeContext()
        } catch let error as TLSConfigurationError {
            throw ValidationError(error.message)
        }
    }
}
