/// Whether a TLS listener asks its clients for a certificate (mutual TLS), as Kafka's
/// `ssl.client.auth`: `none`, `requested` (verified when sent) or `required`.
public enum TLSClientAuthentication: String, Sendable, CaseIterable, CustomStringConvertible {
    case none
    case requested
    case required

    public var description: String { rawValue }

    public init?(parsing text: String) {
        self.init(rawValue: text.lowercased())
    }
}
