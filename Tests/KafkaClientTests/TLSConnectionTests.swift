import Foundation
import KafkaClient
import KafkaClientTLS
import NIOSSL
import PaynodeTestSupport
import Protocol
import Testing

/// KafkaConnection over TLS against `paynode broker --kafka-security-protocol SSL` with the
/// certificates of `paynode certs init`: verified against the CA, refused otherwise.
@Suite(.serialized) struct TLSConnectionTests {
    private func certificates() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("paynode-tls-client-\(UUID().uuidString)")
        _ = try runTool(try BuiltProducts.paynode().path, ["certs", "init", "--dir", directory.path])
        return directory
    }

    private func sslBroker(_ certificates: URL) throws -> BrokerProcess {
        try BrokerProcess(extraArguments: ["--kafka-security-protocol", "SSL",
                                           "--tls-cert-file", certificates.appendingPathComponent("server.pem").path,
                                           "--tls-key-file", certificates.appendingPathComponent("server-key.pem").path])
    }

    private func configuration(trusting caFile: String?) throws -> KafkaConnection.Configuration {
        var connection = KafkaConnection.Configuration(clientId: "tls-tests", connectTimeout: .seconds(10), requestTimeout: .seconds(10))
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            connection.securityProtocol = .ssl
            connection.transportSecurity = NIOSSLTransportSecurity(context: try NIOSSLContext(configuration: tls))
        }
        return connection
    }

    @Test func clientTrustingTheCATalksToTheBroker() async throws {
        let certificates = try certificates()
        defer { try? FileManager.default.removeItem(at: certificates) }
        let broker = try sslBroker(certificates)
        defer { broker.remove() }
        let client = KafkaClient(configuration: KafkaClientConfiguration(
            bootstrapServers: [broker.address],
            connection: try configuration(trusting: certificates.appendingPathComponent("ca.pem").path), reconnectAttempts: 3))
        try await client.createTopic("tls-orders", partitions: 2)
        let metadata = try await client.metadata(topics: ["tls-orders"])
        await client.shutdown()
        #expect(metadata.topics["tls-orders"]?.partitionCount == 2)
    }

    @Test func plaintextAndUntrustingClientsAreRefused() async throws {
        let certificates = try certificates()
        let stranger = try self.certificates()
        defer {
            try? FileManager.default.removeItem(at: certificates)
            try? FileManager.default.removeItem(at: stranger)
        }
        let broker = try sslBroker(certificates)
        defer { broker.remove() }
        await #expect(throws: KafkaClientError.self, "a plaintext client gets no Kafka answer from a TLS listener") {
            _ = try await KafkaConnection.connect(to: broker.address, configuration: try configuration(trusting: nil))
        }
        await #expect(throws: KafkaClientError.self, "a client that trusts another CA refuses the broker") {
            _ = try await KafkaConnection.connect(to: broker.address,
                                                  configuration: try configuration(trusting: stranger.appendingPathComponent("ca.pem").path))
        }
        let trusted = try await KafkaConnection.connect(to: broker.address,
                                                        configuration: try configuration(trusting: certificates.appendingPathComponent("ca.pem").path))
        #expect(trusted.isActive, "the broker stays up for clients that do speak TLS")
        await trusted.close()
    }
}
