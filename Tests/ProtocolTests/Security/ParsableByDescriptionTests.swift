import Protocol
import Testing

/// Operators' spellings of the security enums (`paynode acls`, `--kafka-security-protocol`,
/// `--sasl-mechanism`), all parsed by one `ParsableByDescription.init(parsing:)`.
@Suite struct ParsableByDescriptionTests {
    @Test func everyCaseParsesFromItsDescriptionInAnyLetterCase() {
        for type in AclResourceType.allCases {
            #expect(AclResourceType(parsing: type.description.uppercased()) == type)
            #expect(AclResourceType(parsing: type.description.lowercased()) == type)
        }
        for operation in AclOperation.allCases { #expect(AclOperation(parsing: operation.description.lowercased()) == operation) }
        for permission in AclPermission.allCases { #expect(AclPermission(parsing: permission.description.uppercased()) == permission) }
        for pattern in AclPatternType.allCases { #expect(AclPatternType(parsing: pattern.description.lowercased()) == pattern) }
        for security in KafkaSecurityProtocol.allCases { #expect(KafkaSecurityProtocol(parsing: security.rawValue.lowercased()) == security) }
        for mechanism in SaslMechanism.allCases { #expect(SaslMechanism(parsing: mechanism.rawValue.lowercased()) == mechanism) }
    }

    @Test func onlyTheTypesThatForgiveMoreAcceptMore() {
        // Operations as Kafka's tools write them; other enums keep their underscores significant.
        #expect(AclOperation(parsing: "describe_configs") == .describeConfigs)
        #expect(AclResourceType(parsing: "transactional_id") == nil)
        #expect(KafkaSecurityProtocol(parsing: "saslssl") == nil)
        // Mechanism lists are split at commas, so their parts may carry spaces.
        #expect(SaslMechanism(parsing: " scram-sha-512 ") == .scramSHA512)
        #expect(SaslMechanism.list("SCRAM-SHA-512, plain") == [.scramSHA512, .plain])
        #expect(KafkaSecurityProtocol(parsing: " SSL") == nil)
    }

    @Test func unknownAndEmptySpellingsAreNil() {
        #expect(AclResourceType(parsing: "") == nil)
        #expect(AclOperation(parsing: "readwrite") == nil)
        #expect(AclPermission(parsing: "maybe") == nil)
        #expect(AclPatternType(parsing: "glob") == nil)
        #expect(SaslMechanism(parsing: "GSSAPI") == nil)
    }
}
