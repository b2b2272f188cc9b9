import ArgumentParser
import Logging
import TLSSupport

/// The TLS flags of a node's listeners (`broker`, `service`, `executor`): one certificate for
/// the node, served by its Kafka listener when its security protocol uses TLS and by its HTTP
/// listener with `--http-tls`. SIGHUP reads the files again (see `TLSReloadService`).
struct TLSListenerOptions: ParsableArguments {
    @Option(name: .customLong("tls-cert-file"), help: "PEM certificate chain of the TLS listeners, the node's own certificate first (env: PAYNODE_TLS_CERT_FILE).")
    var certificateChainFile: String?

    @Option(name: .customLong("tls-key-file"), help: "PEM private key of --tls-cert-file (env: PAYNODE_TLS_KEY_FILE).")
    var privateKeyFile: String?

    @Option(name: .customLong("tls-client-ca-file"), help: "PEM CA certificates that client certificates must chain to, for mutual TLS (env: PAYNODE_TLS_CLIENT_CA_FILE).")
    var clientCAFile: String?

    @Option(name: .customLong("tls-client-auth"), help: "Client certificates: none, requested or required (env: PAYNODE_TLS_CLIENT_AUTH; default required with --tls-client-ca-file, else none).")
    var clientAuthentication: String?

    @Flag(name: .customLong("http-tls"), help: "Serve the HTTP listener over TLS (HTTPS) with --tls-cert-file (env: PAYNODE_HTTP_TLS=true).")
    var httpTLS = false

    /// The listeners' TLS contexts, reloaded together: one, shared, unless the HTTP listener
    /// offers protocols by ALPN (HTTP/2), which the Kafka listener must not.
    struct Resolved {
        var kafka: ReloadableTLSContext?
        var http: ReloadableTLSContext?

        /// Reloads on SIGHUP, when any listener serves TLS.
        func reloadService(logger: Logger) -> TLSReloadService? {
            var contexts = [kafka, http].compactMap { $0 }
            if contexts.count == 2, contexts[0] === contexts[1] { contexts.removeLast() }
            return contexts.isEmpty ? nil : TLSReloadService(contexts: contexts, logger: logger)
        }
    }

    /// `kafkaUsesTLS`: the node's Kafka listener (if it has one) uses SSL or SASL_SSL;
    /// `httpApplicationProtocols`: what the HTTP listener offers by ALPN (none: no ALPN). The
    /// files are loaded now, so a node with a bad certificate does not start.
    func resolve(kafkaUsesTLS: Bool, httpApplicationProtocols: [String] = []) throws -> Resolved {
        let http = try httpTLS || EnvironmentOption.bool(nil, "PAYNODE_HTTP_TLS", default: false)
        let needed = kafkaUsesTLS || http
        let files: ServerTLSFiles?
        do {
            // Without a TLS listener only the flags are checked: they were given to this node,
            // while environment variables may be shared by every node of a deployment.
            files = try ServerTLSFiles.validated(
                certificateChainFile: needed ? EnvironmentOption.string(certificateChainFile, "PAYNODE_TLS_CERT_FILE") : certificateChainFile,
                privateKeyFile: needed ? EnvironmentOption.string(privateKeyFile, "PAYNODE_TLS_KEY_FILE") : privateKeyFile,
                clientCAFile: needed ? EnvironmentOption.string(clientCAFile, "PAYNODE_TLS_CLIENT_CA_FILE") : clientCAFile,
                clientAuthentication: needed ? EnvironmentOption.string(clientAuthentication, "PAYNODE_TLS_CLIENT_AUTH") : clientAuthentication,
                needed: needed)
        } catch let error as TLSConfigurationError {
            throw ValidationError(error.message)
        }
        guard let files else { return Resolved() }
        do {
            let kafkaContext = kafkaUsesTLS ? try ReloadableTLSContext(files: files) : nil
            guard http else { return Resolved(kafka: kafkaContext) }
            if let kafkaContext, httpApplicationProtocols.isEmpty { return Resolved(kafka: kafkaContext, http: kafkaContext) }
            return Resolved(kafka: kafkaContext,
                            http: try ReloadableTLSContext(files: files, applicationProtocols: httpApplicationProtocols))
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
