import KafkaClient
import NIOCore
import NIOSSL

/// Kafka connections over TLS with NIOSSL (BoringSSL): the server's certificate is always
/// verified against the context's trust roots, and its name checked against the host connected to.
public struct NIOSSLTransportSecurity: KafkaTransportSecurity {
    public let context: NIOSSLContext

    public init(context: NIOSSLContext) {
        self.context = context
    }

    /// The system's trust roots, TLS 1.2 or later, no client certificate.
    public static func systemTrustRoots() throws(KafkaClientError) -> NIOSSLTransportSecurity {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        do {
            return NIOSSLTransportSecurity(context: try NIOSSLContext(configuration: tls))
        } catch {
            throw KafkaClientError(.invalidArgument, "cannot build a TLS context with the system's trust roots: \(error)")
        }
    }

    public func addClientHandler(to pipeline: ChannelPipeline.SynchronousOperations, host: String) throws {
        // An IP address may not be sent as SNI; NIOSSL then checks the certificate's IP names
        // against the address connected to.
        let serverHostname = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverHostname))
    }
}
