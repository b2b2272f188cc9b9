import KafkaClient
import PaynodeTestSupport
import Protocol

// The group APIs a consumer uses; the client library has no consumer, so the tests speak them
// through `KafkaConnection` directly.
extension JoinGroupRequest: KafkaRequest { public typealias Response = JoinGroupResponse }
extension SyncGroupRequest: KafkaRequest { public typealias Response = SyncGroupResponse }
extension HeartbeatRequest: KafkaRequest { public typealias Response = HeartbeatResponse }
extension LeaveGroupRequest: KafkaRequest { public typealias Response = LeaveGroupResponse }

extension InProcessBroker {
    /// A client of this broker that gives up quickly: a test fails in seconds, not minutes.
    func client(_ connection: KafkaConnection.Configuration = .init(clientId: "broker-tests", requestTimeout: .seconds(10))) -> KafkaClient {
        KafkaClient(configuration: KafkaClientConfiguration(
            bootstrapServers: [address], connection: connection,
            reconnectBackoff: KafkaBackoff(initial: .milliseconds(20), maximum: .milliseconds(200)), reconnectAttempts: 3))
    }

    func connect(_ configuration: KafkaConnection.Configuration = .init(clientId: "broker-tests", requestTimeout: .seconds(10))) async throws -> KafkaConnection {
        try await KafkaConnection.connect(to: address, configuration: configuration)
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
