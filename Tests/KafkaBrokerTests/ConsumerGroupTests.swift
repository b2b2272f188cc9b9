import KafkaClient
import NIOCore
import PaynodeTestSupport
import Protocol
import Testing

/// A consumer's group cycle against the in-process broker: join, sync, heartbeat, commit and
/// read back its offsets, with the generation checks that fence a stale member.
struct ConsumerGroupTests {
    @Test func aMemberJoinsSyncsCommitsAndReadsItsOffsetsBack() async throws {
        try await InProcessBroker.run { broker in
            let client = broker.client()
            try await client.createTopic("payments", partitions: 2)
            // A commit may not point past the end of the log: give the partition records to consume.
            let producer = try KafkaProducer(client: client)
            for index in 0..<5 { _ = try await producer.send(topic: "payments", partition: 1, key: nil, value: bytes("p\(index)")) }
            await producer.close()
            let connection = try await broker.connect()
            let coordinator = try await connection.request(FindCoordinatorRequest(key: "settlement"))
            #expect(coordinator.errorCode == 0)
            #expect(Int(coordinator.port) == broker.port)

            let protocols = [JoinGroupRequest.GroupProtocol(name: "range", metadata: ByteBuffer(bytes: [0, 1]))]
            func join(_ memberId: String) async throws -> JoinGroupResponse {
                try await connection.request(JoinGroupRequest(groupId: "settlement", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000,
                                                              memberId: memberId, protocolType: "consumer", protocols: protocols))
            }
            var joined = try await join("")
            // From JoinGroup v4 on, a new member first gets its id and joins again with it.
            if joined.errorCode == KafkaErrorCode.memberIdRequired.rawValue { joined = try await join(joined.memberId) }
            #expect(joined.errorCode == 0)
            #expect(joined.leader == joined.memberId)
            #expect(joined.generationId >= 1)
            #expect(joined.protocolName == "range")

            let assignment = ByteBuffer(bytes: [7, 7, 7])
            let synced = try await connection.request(SyncGroupRequest(
                groupId: "settlement", generationId: joined.generationId, memberId: joined.memberId,
                assignments: [.init(memberId: joined.memberId, assignment: assignment)]))
            #expect(synced.errorCode == 0)
            #expect(synced.assignment == assignment)
            let beat = try await connection.request(HeartbeatRequest(groupId: "settlement", generationId: joined.generationId, memberId: joined.memberId))
            #expect(beat.errorCode == 0)

            func commit(generation: Int32, offset: Int64) async throws -> [Int16] {
                let response = try await connection.request(OffsetCommitRequest(
                    groupId: "settlement", generationId: generation, memberId: joined.memberId,
                    topics: [.init(name: "payments", partitions: [.init(partitionIndex: 1, committedOffset: offset, committedMetadata: "m")])]))
                return response.topics.flatMap { $0.partitions.map(\.errorCode) }
            }
            #expect(try await commit(generation: joined.generationId, offset: 5) == [0])
            // A member of an older generation is fenced and its commit is not stored.
            #expect(try await commit(generation: joined.generationId - 1, offset: 2) == [KafkaErrorCode.illegalGeneration.rawValue])

            let offsets = try await client.fetchOffsets(group: "settlement", topics: ["payments"])
            #expect(offsets == [KafkaTopicPartition("payments", 1): KafkaOffsetAndMetadata(offset: 5, metadata: "m")])
            await connection.close()
            await client.shutdown()
        }
    }
}
