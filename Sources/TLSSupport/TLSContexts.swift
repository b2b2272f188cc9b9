import NIOSSL

/// NIOSSL contexts from PEM files. TLS 1.2 is the floor everywhere: older versions have known
/// breaks and no client paynode speaks needs them.
extension ServerTLSFiles {
    /// `applicationProtocols`: what ALPN offers, preferred first (the HTTP listener's `h2` and
    /// `http/1.1`); none leaves ALPN out.
    public func makeContext(applicationProtocols: [String] = []) throws -> NIOSSLContext {
        let chain = try loadCertificates(certificateChainFile, role: "certificate chain")
        let key = try loadPrivateKey(privateKeyFile)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = applicationProtocols
        if let clientCAFile {
            configuration.trustRoots = .certificates(try loadCertificates(clientCAFile, role: "client CA"))
            switch clientAuthentication {
            case .none: configuration.certificateVerification = .none
            case .requested: configuration.certificateVerification = .optionalVerification
            // Client certificates name people and services, not hosts.
            case .required: configuration.certificateVerification = .noHostnameVerification
            }
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            // BoringSSL refuses a key that does not belong to the certificate here.
            throw TLSConfigurationError("cannot use \(certificateChainFile) with \(privateKeyFile): \(error)")
        }
    }
}

extension ClientTLSFiles {
    /// Verifies the server's certificate against `caFile` (or the system's roots) and its name
    /// against the host connected to (an IP address is checked against the certificate's IP SANs).
    /// `applicationProtocols`: what ALPN asks for (`h2` for an HTTP/2 client); none leaves it out.
    public func makeContext(applicationProtocols: [String] = []) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = applicationProtocols
        configuration.certificateVerification = .fullVerification
        if let caFile {
            configuration.trustRoots = .certificates(try loadCertificates(caFile, role: "CA"))
        }
        if let certificateChainFile, let privateKeyFile {
            configuration.certificateChain = try loadCertificates(certificateChainFile, role: "client certificate").map { .certificate($0) }
            configuration.privateKey = .privateKey(try loadPrivateKey(privateKeyFile))
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSConfigurationError("cannot build a TLS client context: \(error)")
        }
    }
}

/// NIOSSL's own errors do not name the file; an operator needs to know which one is wrong.
func loadCertificates(_ path: String, role: String) throws -> [NIOSSLCertificate] {
    let certificates: [NIOSSLCertificate]
    do {
        certificates = try NIOSSLCertificate.fromPEMFile(path)
    } catch {
        throw TLSConfigurationError("cannot read the \(role) PEM file \(path): \(error)")
    }
    guard !certificates.isEmpty else { throw TLSConfigurationError("the \(role) PEM file \(path) holds no certificate") }
    return certificates
}

func loadPrivateKey(_ path: String) throws -> NIOSSLPrivateKey {
    do {
        return try NIOSSLPrivateKey(file: path, format: .pem)
    } catch {
        throw TLSConfigurationError("cannot read the private key PEM file \(path): \(error)")
    }
}
