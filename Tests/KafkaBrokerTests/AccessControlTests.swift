import KafkaBroker
import KafkaClient
import LogStore
import PaynodeTestSupport
import Protocol
import Testing

/// ACLs stored in the broker's store decide who may write a topic; SASL/SCRAM decides who a
/// connection is.
struct AccessControlTests {
    /// Only `User:alice` may write `ledger`; a topic no ACL names stays open to everyone
    /// (allow.everyone.if.no.acl.found, the default).
    static func prepareLedger(_ store: LogStore) async throws {
        _ = try await store.createTopic("ledger", partitions: 1)
        _ = try await store.createTopic("open", partitions: 1)
        let aliceWrites = AclBinding(resourceType: .topic, resourceName: "ledger", principal: "User:alice", operation: .write, permission: .allow)
        try await store.write { transaction in _ = try StoredAcl.add([aliceWrites], in: transaction) }
    }

    static func produceRequest(topic: String, value: String) throws -> ProduceRequest {
        let batch = try RecordBatch.encode(records: [Record(timestamp: 1_700_000_000_000, key: nil, value: bytes(value))])
        return ProduceRequest(acks: -1, timeoutMs: 5000, topicData: [.init(name: topic, partitionData: [.init(index: 0, records: batch)])])
    }

    static func errorCodes(_ response: ProduceResponse) -> [String: Int16] {
        Dictionary(uniqueKeysWithValues: response.responses.flatMap { topic in topic.partitionResponses.map { (topic.name, $0.errorCode) } })
    }

    @Test func anAnonymousProduceToATopicOnlyAliceMayWriteIsRefusedAndNotStored() async throws {
        try await InProcessBroker.run(prepare: Self.prepareLedger) { broker in
            let connection = try await broker.connect()
            let refused = try await connection.request(Self.produceRequest(topic: "ledger", value: "forged"))
            #expect(Self.errorCodes(refused) == ["ledger": KafkaErrorCode.topicAuthorizationFailed.rawValue])
            #expect(try broker.store.describe(topic: "ledger")?.partitions[0].highWatermark == 0)

            let allowed = try await connection.request(Self.produceRequest(topic: "open", value: "fine"))
            #expect(Self.errorCodes(allowed) == ["open": 0])
            #expect(try broker.store.describe(topic: "open")?.partitions[0].highWatermark == 1)
            await connection.close()
        }
    }

    static func saslSettings() -> KafkaBrokerSettings {
        var settings = InProcessBroker.defaultSettings()
        settings.server.securityProtocol = .saslPlaintext
        return settings
    }

    static func prepareAlice(_ store: LogStore) async throws {
        try await prepareLedger(store)
        let credentials = StoredScramCredentials(credentials: [ScramHash.sha256, .sha512].map {
            ScramCredential(hash: $0, password: bytes("alice-secret"), salt: ScramCredential.randomSalt(), iterations: ScramCredential.minimumIterations)
        })
        try await SaslCredentialStore.put("alice", credentials, in: store)
    }

    static func scram(_ mechanism: SaslMechanism, user: String, password: String) -> KafkaConnection.Configuration {
        var configuration = KafkaConnection.Configuration(clientId: "broker-tests", requestTimeout: .seconds(10))
        configuration.securityProtocol = .saslPlaintext
        configuration.sasl = KafkaSaslCredentials(mechanism: mechanism, username: user, password: bytes(password))
        return configuration
    }

    @Test(arguments: [SaslMechanism.scramSHA256, .scramSHA512])
    func aliceAuthenticatesWithScramAndThenWritesAsHerself(mechanism: SaslMechanism) async throws {
        try await InProcessBroker.run(Self.saslSettings(), prepare: Self.prepareAlice) { broker in
            let connection = try await broker.connect(Self.scram(mechanism, user: "alice", password: "alice-secret"))
            // The ACL names User:alice: the connection's principal is the authenticated user.
            let written = try await connection.request(Self.produceRequest(topic: "ledger", value: "entry"))
            #expect(Self.errorCodes(written) == ["ledger": 0])
            #expect(try broker.store.describe(topic: "ledger")?.partitions[0].highWatermark == 1)
            await connection.close()
        }
    }

    @Test(arguments: [("alice", "wrong-secret"), ("mallory", "alice-secret")])
    func aWrongPasswordOrAnUnknownUserFailsAuthentication(user: String, password: String) async throws {
        try await InProcessBroker.run(Self.saslSettings(), prepare: Self.prepareAlice) { broker in
            await #expect {
                _ = try await broker.connect(Self.scram(.scramSHA256, user: user, password: password))
            } throws: { error in
                (error as? KafkaClientError)?.kafkaError == .saslAuthenticationFailed
            }
            // Without authenticating, a connection gets ApiVersions and nothing more.
            let unauthenticated = try await broker.connect()
            await #expect(throws: KafkaClientError.self) { _ = try await unauthenticated.request(MetadataRequest(topics: nil)) }
            #expect(!unauthenticated.isActive)
        }
    }
}
