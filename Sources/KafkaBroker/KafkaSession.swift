import Protocol

/// One Kafka connection's state beyond its bytes: where it comes from and who it has proved
/// to be. The server owns one per connection and hands it to every request of that
/// connection, so authentication (SASL) sets the principal once and authorization reads it.
struct KafkaSession: Sendable {
    /// Kafka shows members' hosts as "/address".
    let clientHost: String
    /// `User:ANONYMOUS` until the connection authenticates.
    var principal: KafkaPrincipal = .anonymous
    /// The SASL exchange on a SASL_* listener; nil on listeners without SASL.
    var sasl: SaslServerSession?

    init(clientHost: String, principal: KafkaPrincipal = .anonymous, sasl: SaslServerSession? = nil) {
        self.clientHost = clientHost
        self.principal = principal
        self.sasl = sasl
    }

    /// Whether requests beyond ApiVersions and the SASL ones may be answered.
    var mayUseAPIs: Bool { sasl?.isAuthenticated ?? true }
}
