/// What a TLS client trusts and, for mutual TLS, presents: the CA file that the server's
/// certificate must chain to (nil: the system's trust store) and an optional certificate and key.
public struct ClientTLSFiles: Sendable, Equatable {
    public var caFile: String?
    public var certificateChainFile: String?
    public var privateKeyFile: String?

    public init(caFile: String? = nil, certificateChainFile: String? = nil, privateKeyFile: String? = nil) {
        self.caFile = caFile
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
    }

    /// A client certificate needs its key and the other way round.
    public static func validated(caFile: String?, certificateChainFile: String?, privateKeyFile: String?) throws -> ClientTLSFiles {
        switch (certificateChainFile, privateKeyFile) {
        case (nil, nil), (.some, .some):
            return ClientTLSFiles(caFile: caFile, certificateChainFile: certificateChainFile, privateKeyFile: privateKeyFile)
        case (.some, nil):
            throw TLSConfigurationError("--tls-client-cert-file needs --tls-client-key-file")
        case (nil, .some):
            throw TLSConfigurationError("--tls-client-key-file needs --tls-client-cert-file")
        }
    }
}
