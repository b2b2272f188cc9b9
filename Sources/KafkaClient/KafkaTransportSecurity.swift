import NIOCore

/// What encrypts a connection to an SSL or SASL_SSL listener. KafkaClient links no TLS
/// implementation itself (KafkaClientTLS provides the NIOSSL one): targets that use the client
/// only in plaintext, like the sanitizer build of the fuzzer, then do not compile BoringSSL.
public protocol KafkaTransportSecurity: Sendable {
    /// Adds the client side of TLS to a new connection's pipeline, before Kafka's framing.
    /// Runs on the channel's event loop. `host` is the broker host as connected to: a DNS name
    /// to send as SNI and check the certificate against, or an IP address.
    func addClientHandler(to pipeline: ChannelPipeline.SynchronousOperations, host: String) throws
}
