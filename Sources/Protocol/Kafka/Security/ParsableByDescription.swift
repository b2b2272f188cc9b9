/// An enum an operator names by its cases' descriptions, in any letter case (`--operation read`,
/// `security.protocol=sasl_ssl`). The cases are few, so a scan of `allCases` is the lookup.
public protocol ParsableByDescription: CaseIterable, CustomStringConvertible {
    /// `text` as it is compared with each case's lowercased description: lowercased, plus what
    /// else the type forgives (AclOperation drops underscores).
    static func foldedForParsing(_ text: some StringProtocol) -> String
}

extension ParsableByDescription {
    public static func foldedForParsing(_ text: some StringProtocol) -> String { text.lowercased() }

    /// The case whose description `text` spells, or nil.
    public init?(parsing text: some StringProtocol) {
        let folded = Self.foldedForParsing(text)
        guard let match = Self.allCases.first(where: { $0.description.lowercased() == folded }) else { return nil }
        self = match
    }
}
