import Foundation
import KafkaClient
import PaynodeTestSupport
import Protocol
import Testing

/// `KafkaConnection` authenticating against a real `paynode broker --kafka-security-protocol
/// SASL_PLAINTEXT` whose user was added by `paynode users add`.
@Suite(.serialized) struct SaslBrokerTests {
    static func startBroker() throws -> BrokerProcess {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("paynode-sasl-tests-\(UUID().uuidString)")
        _ = try runTool(try BuiltProducts.paynode().path, ["users", "add", "--data-dir", directory.appendingPathComponent("data").path,
                                                           "--name", "executor", "--iterations", "4096"], input: "pw-executor\n")
        return try BrokerProcess(dataDirectory: directory, extraArguments: ["--kafka-security-protocol", "SASL_PLAINTEXT"])
    }

    func configuration(_ mechanism: SaslMechanism?, user: String = "executor", password: String = "pw-executor") -> KafkaConnection.Configuration {
        var configuration = KafkaConnection.Configuration(clientId: "sasl-tests", requestTimeout: .seconds(20))
        if let mechanism {
            configuration.securityProtocol = .saslPlaintext
            configuration.sasl = KafkaSaslCredentials(mechanism: mechanism, username: user, password: Array(password.utf8))
        }
        return configuration
    }

    @Test func everyMechanismAuthenticatesAndThenMayUseTheBroker() async throws {
        let broker = try Self.startBroker()
        defer { broker.remove() }
        for mechanism in SaslMechanism.allCases {
            let connection = try await KafkaConnection.connect(to: broker.address, configuration: configuration(mechanism))
            let metadata = try await connection.request(MetadataRequest(topics: nil))
            #expect(metadata.brokers.count == 1, "\(mechanism)")
            await connection.close()
        }
    }

    @Test func wrongPasswordAndUnknownUserFailWithSaslAuthenticationFailed() async throws {
        let broker = try Self.startBroker()
        defer { broker.remove() }
        for (user, password) in [("executor", "wrong"), ("nobody", "pw-executor")] {
            for mechanism in SaslMechanism.allCases {
                await #expect(throws: KafkaClientError.self) {
                    do {
                        _ = try await KafkaConnection.connect(to: broker.address, configuration: configuration(mechanism, user: user, password: password))
                    } catch let error as KafkaClientError {
                        #expect(error.kafkaError == .saslAuthenticationFailed, "\(mechanism) \(user): \(error)")
                        #expect(!error.description.contains(password))
                        throw error
                    }
                }
            }
        }
    }

    @Test func aClientWithoutSaslIsCutOffAfterApiVersions() async throws {
        let broker = try Self.startBroker()
        defer { broker.remove() }
        // ApiVersions is answered before authentication, so the connection opens...
        let connection = try await KafkaConnection.connect(to: broker.address, configuration: configuration(nil))
        // ...and the first other request closes it.
        await #expect(throws: KafkaClientError.self) { _ = try await connection.request(MetadataRequest(topics: nil)) }
        #expect(!connection.isActive)
    }
}
