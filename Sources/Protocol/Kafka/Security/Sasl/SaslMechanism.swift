/// The SASL mechanisms paynode's Kafka listener and client speak, spelled as Kafka spells them
/// in SaslHandshake and `sasl.mechanism`.
public enum SaslMechanism: String, Sendable, Hashable, ParsableByDescription {
    case plain = "PLAIN"
    case scramSHA256 = "SCRAM-SHA-256"
    case scramSHA512 = "SCRAM-SHA-512"

    public var description: String { rawValue }

    /// An operator's spelling is parsed case-insensitively and without surrounding spaces
    /// ("SCRAM-SHA-512, PLAIN"); the wire name in SaslHandshake is matched exactly, as Kafka does.
    public static func foldedForParsing(_ text: some StringProtocol) -> String {
        text.trimmingSpaces.lowercased()
    }

    /// The hash of a SCRAM mechanism; nil for PLAIN.
    public var scramHash: ScramHash? {
        switch self {
        case .plain: nil
        case .scramSHA256: .sha256
        case .scramSHA512: .sha512
        }
    }

    /// A comma-separated list ("SCRAM-SHA-512,PLAIN"), nil when a name is unknown or the list empty.
    public static func list(_ text: String) -> [SaslMechanism]? {
        var mechanisms: [SaslMechanism] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: true) {
            guard let mechanism = SaslMechanism(parsing: part) else { return nil }
            if !mechanisms.contains(mechanism) { mechanisms.append(mechanism) }
        }
        return mechanisms.isEmpty ? nil : mechanisms
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
