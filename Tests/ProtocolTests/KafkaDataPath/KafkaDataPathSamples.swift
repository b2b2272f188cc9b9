import NIOCore
import Protocol

/// The values that golden/make_golden.py encodes with kafka-python, built by the same rules:
/// each version-gated field holds a non-default value in the versions that carry it and
/// Kafka's default elsewhere (so decoding the golden bytes must give exactly these values).
enum KafkaDataPathSamples {
    static let batch = buffer(hex: KafkaDataPathGolden.recordBatch)

    static func apiVersionsResponse(_ v: Int16) -> ApiVersionsResponse {
        ApiVersionsResponse(
            errorCode: 0,
            apiKeys: [.init(apiKey: 0, minVersion: 3, maxVersion: 8), .init(apiKey: 1, minVersion: 4, maxVersion: 11),
                      .init(apiKey: 18, minVersion: 0, maxVersion: 2)],
            throttleTimeMs: v >= 1 ? 250 : 0)
    }

    static func metadataRequest(_ v: Int16) -> MetadataRequest {
        MetadataRequest(topics: [.init(name: "orders"), .init(name: "payments")],
                        allowAutoTopicCreation: v >= 4 ? false : true,
                        includeClusterAuthorizedOperations: v >= 8, includeTopicAuthorizedOperations: v >= 8)
    }

    static func metadataRequestAllTopics(_ v: Int16) -> MetadataRequest {
        MetadataRequest(topics: nil)
    }

    static func metadataResponse(_ v: Int16) -> MetadataResponse {
        MetadataResponse(
            throttleTimeMs: v >= 3 ? 17 : 0,
            brokers: [.init(nodeId: 1, host: "127.0.0.1", port: 9092, rack: v >= 1 ? "rack-a" : nil),
                      .init(nodeId: 2, host: "10.0.0.2", port: 9093, rack: nil)],
            clusterId: v >= 2 ? "paynode-cluster" : nil,
            controllerId: v >= 1 ? 1 : -1,
            topics: [
                .init(errorCode: 0, name: "orders", isInternal: v >= 1, partitions: [
                    .init(errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: v >= 7 ? 7 : -1,
                          replicaNodes: [1, 2], isrNodes: [1], offlineReplicas: v >= 5 ? [2] : []),
                    .init(errorCode: 9, partitionIndex: 1, leaderId: -1, leaderEpoch: -1,
                          replicaNodes: [], isrNodes: [], offlineReplicas: []),
                ], topicAuthorizedOperations: v >= 8 ? 0x0FF8 : Int32.min),
                .init(errorCode: 3, name: "missing", isInternal: false, partitions: [], topicAuthorizedOperations: Int32.min),
            ],
            clusterAuthorizedOperations: v >= 8 ? 0x1F : Int32.min)
    }

    static func produceRequest(_ v: Int16) -> ProduceRequest {
        ProduceRequest(transactionalId: "tx-1", acks: -1, timeoutMs: 30000, topicData: [
            .init(name: "orders", partitionData: [.init(index: 0, records: batch), .init(index: 3, records: nil)]),
            .init(name: "payments", partitionData: []),
        ])
    }

    static func produceResponse(_ v: Int16) -> ProduceResponse {
        ProduceResponse(responses: [
            .init(name: "orders", partitionResponses: [
                .init(index: 0, errorCode: 0, baseOffset: 42, logAppendTimeMs: 1_700_000_000_123,
                      logStartOffset: v >= 5 ? 5 : -1, recordErrors: [], errorMessage: nil),
                .init(index: 3, errorCode: 87, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: v >= 5 ? 0 : -1,
                      recordErrors: v >= 8 ? [.init(batchIndex: 2, batchIndexErrorMessage: "bad key"),
                                              .init(batchIndex: 4, batchIndexErrorMessage: nil)] : [],
                      errorMessage: v >= 8 ? "invalid record" : nil),
            ]),
        ], throttleTimeMs: 12)
    }

    static func fetchRequest(_ v: Int16) -> FetchRequest {
        FetchRequest(
            replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 52_428_800, isolationLevel: 1,
            sessionId: v >= 7 ? 77 : 0, sessionEpoch: v >= 7 ? 3 : -1,
            topics: [.init(topic: "orders", partitions: [
                .init(partition: 0, currentLeaderEpoch: v >= 9 ? 5 : -1, fetchOffset: 1234,
                      logStartOffset: v >= 5 ? 10 : -1, partitionMaxBytes: 1_048_576),
                .init(partition: 2, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 65536),
            ])],
            forgottenTopicsData: v >= 7 ? [.init(topic: "old", partitions: [1, 4])] : [],
            rackId: v >= 11 ? "rack-b" : "")
    }

    static func fetchResponse(_ v: Int16) -> FetchResponse {
        FetchResponse(throttleTimeMs: 3, errorCode: 0, sessionId: v >= 7 ? 77 : 0, responses: [
            .init(topic: "orders", partitions: [
                .init(partitionIndex: 0, errorCode: 0, highWatermark: 1235, lastStableOffset: 1230,
                      logStartOffset: v >= 5 ? 10 : -1, abortedTransactions: [.init(producerId: 9, firstOffset: 1200)],
                      preferredReadReplica: v >= 11 ? 2 : -1, records: batch),
                .init(partitionIndex: 2, errorCode: 1, highWatermark: 0, lastStableOffset: -1, logStartOffset: -1,
                      abortedTransactions: nil, preferredReadReplica: -1, records: nil),
            ]),
        ])
    }

    static func listOffsetsRequest(_ v: Int16) -> ListOffsetsRequest {
        ListOffsetsRequest(replicaId: -1, isolationLevel: v >= 2 ? 1 : 0, topics: [
            .init(name: "orders", partitions: [
                .init(partitionIndex: 0, currentLeaderEpoch: v >= 4 ? 6 : -1, timestamp: -2),
                .init(partitionIndex: 1, currentLeaderEpoch: -1, timestamp: 1_700_000_000_000),
            ]),
        ])
    }

    static func listOffsetsResponse(_ v: Int16) -> ListOffsetsResponse {
        ListOffsetsResponse(throttleTimeMs: v >= 2 ? 8 : 0, topics: [
            .init(name: "orders", partitions: [
                .init(partitionIndex: 0, errorCode: 0, timestamp: -1, offset: 0, leaderEpoch: v >= 4 ? 6 : -1),
                .init(partitionIndex: 1, errorCode: 0, timestamp: 1_700_000_000_001, offset: 57, leaderEpoch: -1),
            ]),
        ])
    }
}

/// One message type's codec, so the tests can walk every API and version uniformly.
struct DataPathCase: Sendable, CustomStringConvertible {
    var name: String
    var versions: ClosedRange<Int16>
    var golden: [Int16: String]
    var isRequest: Bool
    /// Decodes `bytes` at `version`; returns whether the result equals the sample and how many bytes were left.
    var decodeMatches: @Sendable (_ bytes: ByteBuffer, _ version: Int16) throws(KafkaCodecError) -> (matches: Bool, left: Int)
    var encodeSample: @Sendable (_ version: Int16) -> ByteBuffer
    var roundTrips: @Sendable (_ version: Int16) throws(KafkaCodecError) -> Bool
    var decodeOnly: @Sendable (_ bytes: inout ByteBuffer, _ version: Int16) throws(KafkaCodecError) -> Void

    var description: String { name }

    static func request<T: KafkaRequestBody & Hashable>(_ name: String, _ golden: [Int16: String],
                                                        _ sample: @escaping @Sendable (Int16) -> T) -> DataPathCase {
        make(name, T.apiKey.supportedVersions, golden, true, sample,
             { (b: inout ByteBuffer, v: Int16) throws(KafkaCodecError) -> T in try T.decode(from: &b, version: v) }, { $0.encode(into: &$1, version: $2) })
    }

    static func response<T: KafkaResponseBody & Hashable>(_ name: String, _ api: KafkaAPIKey, _ golden: [Int16: String],
                                                          _ sample: @escaping @Sendable (Int16) -> T) -> DataPathCase {
        make(name, api.supportedVersions, golden, false, sample,
             { (b: inout ByteBuffer, v: Int16) throws(KafkaCodecError) -> T in try T.decode(from: &b, version: v) }, { $0.encode(into: &$1, version: $2) })
    }

    private static func make<T: Hashable & Sendable>(
        _ name: String, _ versions: ClosedRange<Int16>, _ golden: [Int16: String], _ isRequest: Bool,
        _ sample: @escaping @Sendable (Int16) -> T,
        _ decode: @escaping @Sendable (inout ByteBuffer, Int16) throws(KafkaCodecError) -> T,
        _ encode: @escaping @Sendable (T, inout ByteBuffer, Int16) -> Void
    ) -> DataPathCase {
        DataPathCase(
            name: name, versions: versions, golden: golden, isRequest: isRequest,
            decodeMatches: { (bytes, version) throws(KafkaCodecError) in
                var copy = bytes
                let value = try decode(&copy, version)
                return (value == sample(version), copy.readableBytes)
            },
            encodeSample: { version in
                var out = ByteBuffer()
                encode(sample(version), &out, version)
                return out
            },
            roundTrips: { (version) throws(KafkaCodecError) in
                var out = ByteBuffer()
                encode(sample(version), &out, version)
                return try decode(&out, version) == sample(version) && out.readableBytes == 0
            },
            decodeOnly: { (bytes, version) throws(KafkaCodecError) in _ = try decode(&bytes, version) })
    }

    static let all: [DataPathCase] = [
        .request("ApiVersionsRequest", KafkaDataPathGolden.apiVersionsRequest) { v in
            v >= 3 ? ApiVersionsRequest(clientSoftwareName: "kafka-python", clientSoftwareVersion: "3.0.12") : ApiVersionsRequest()
        },
        .response("ApiVersionsResponse", .apiVersions, KafkaDataPathGolden.apiVersionsResponse, KafkaDataPathSamples.apiVersionsResponse),
        .request("MetadataRequest", KafkaDataPathGolden.metadataRequest, KafkaDataPathSamples.metadataRequest),
        .request("MetadataRequest(all topics)", KafkaDataPathGolden.metadataRequestAllTopics, KafkaDataPathSamples.metadataRequestAllTopics),
        .response("MetadataResponse", .metadata, KafkaDataPathGolden.metadataResponse, KafkaDataPathSamples.metadataResponse),
        .request("ProduceRequest", KafkaDataPathGolden.produceRequest, KafkaDataPathSamples.produceRequest),
        .response("ProduceResponse", .produce, KafkaDataPathGolden.produceResponse, KafkaDataPathSamples.produceResponse),
        .request("FetchRequest", KafkaDataPathGolden.fetchRequest, KafkaDataPathSamples.fetchRequest),
        .response("FetchResponse", .fetch, KafkaDataPathGolden.fetchResponse, KafkaDataPathSamples.fetchResponse),
        .request("ListOffsetsRequest", KafkaDataPathGolden.listOffsetsRequest, KafkaDataPathSamples.listOffsetsRequest),
        .response("ListOffsetsResponse", .listOffsets, KafkaDataPathGolden.listOffsetsResponse, KafkaDataPathSamples.listOffsetsResponse),
    ]
}
