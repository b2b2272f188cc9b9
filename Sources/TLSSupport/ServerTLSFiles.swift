/// What a TLS listener serves: its certificate chain and private key (PEM files), and for
/// mutual TLS the CA that client certificates must chain to. Files, not loaded certificates,
/// so that SIGHUP can read them again.
public struct ServerTLSFiles: Sendable, Equatable {
    public var certificateChainFile: String
    public var privateKeyFile: String
    public var clientCAFile: String?
    public var clientAuthentication: TLSClientAuthentication

    public init(certificateChainFile: String, privateKeyFile: String, clientCAFile: String? = nil,
                clientAuthentication: TLSClientAuthentication = .none) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.clientCAFile = clientCAFile
        self.clientAuthentication = clientAuthentication
    }

    /// The listener flags as given (flag, else environment), checked together. `needed` is
    /// whether any listener of the node serves TLS: without one, TLS flags are a mistake worth
    /// refusing rather than silently ignoring (the operator believes traffic is encrypted).
    /// Nil when no listener serves TLS.
    public static func validated(certificateChainFile: String?, privateKeyFile: String?, clientCAFile: String?,
                                 clientAuthentication: String?, needed: Bool) throws -> ServerTLSFiles? {
        let authentication: TLSClientAuthentication
        if let clientAuthentication {
            guard let parsed = TLSClientAuthentication(parsing: clientAuthentication) else {
                throw TLSConfigurationError("--tls-client-auth \(clientAuthentication) must be one of "
                    + TLSClientAuthentication.allCases.map(\.rawValue).joined(separator: ", "))
            }
            authentication = parsed
        } else {
            authentication = clientCAFile == nil ? .none : .required
        }
        guard needed else {
            let given = [("--tls-cert-file", certificateChainFile), ("--tls-key-file", privateKeyFile),
                         ("--tls-client-ca-file", clientCAFile), ("--tls-client-auth", clientAuthentication)]
                .filter { $0.1 != nil }.map(\.0)
            guard given.isEmpty else {
                throw TLSConfigurationError("\(given.joined(separator: ", ")) given, but no listener uses TLS "
                    + "(set --kafka-security-protocol SSL or SASL_SSL, or --http-tls)")
            }
            return nil
        }
        guard let certificateChainFile, !certificateChainFile.isEmpty else {
            throw TLSConfigurationError("a TLS listener needs --tls-cert-file (a PEM certificate chain, server first)")
        }
        guard let privateKeyFile, !privateKeyFile.isEmpty else {
            throw TLSConfigurationError("a TLS listener needs --tls-key-file (the PEM private key of --tls-cert-file)")
        }
        if authentication != .none, clientCAFile == nil {
            throw TLSConfigurationError("--tls-client-auth \(authentication) needs --tls-client-ca-file to verify client certificates with")
        }
        if authentication == .none, clientCAFile != nil {
            throw TLSConfigurationError("--tls-client-ca-file is given but --tls-client-auth is none: client certificates would not be asked for")
        }
        return ServerTLSFiles(certificateChainFile: certificateChainFile, privateKeyFile: privateKeyFile,
                              clientCAFile: clientCAFile, clientAuthentication: authentication)
    }
}
