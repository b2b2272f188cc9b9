/// Who is on the other end of a Kafka connection, in Kafka's "Type:name" form
/// (`User:executor`, `User:ANONYMOUS`). ACLs name principals this way, so the text form is
/// the one operators type.
public struct KafkaPrincipal: Hashable, Sendable, CustomStringConvertible {
    public var type: String
    public var name: String

    public init(type: String = "User", name: String) {
        self.type = type
        self.name = name
    }

    /// A connection that has not authenticated (a PLAINTEXT or SSL listener without SASL).
    public static let anonymous = KafkaPrincipal(name: "ANONYMOUS")

    /// The wildcard principal of an ACL: matches every principal.
    public static let wildcard = KafkaPrincipal(name: "*")

    public var description: String { "\(type):\(name)" }

    /// Parses "Type:name"; nil when either part is empty.
    public init?(parsing text: some StringProtocol) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let type = text[..<colon]
        let name = text[text.index(after: colon)...]
        guard !type.isEmpty, !name.isEmpty else { return nil }
        self.init(type: String(type), name: String(name))
    }
}
