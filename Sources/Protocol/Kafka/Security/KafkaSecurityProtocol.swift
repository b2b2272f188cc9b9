/// A Kafka listener's (and client's) `security.protocol`, named as Kafka names them: whether
/// the bytes travel in TLS and whether the connection authenticates with SASL before any
/// other request. Parsed case-insensitively (`init(parsing:)`): clients' configs often write
/// it lower case.
public enum KafkaSecurityProtocol: String, Sendable, ParsableByDescription {
    case plaintext = "PLAINTEXT"
    case ssl = "SSL"
    case saslPlaintext = "SASL_PLAINTEXT"
    case saslSSL = "SASL_SSL"

    public var usesTLS: Bool { self == .ssl || self == .saslSSL }
    public var usesSASL: Bool { self == .saslPlaintext || self == .saslSSL }

    public var description: String { rawValue }
}
