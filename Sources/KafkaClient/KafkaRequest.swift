import Protocol

/// A request body that the client can send, tied to the response body it gets back.
public protocol KafkaRequest: KafkaRequestBody {
    associatedtype Response: KafkaResponseBody
    /// False only for Produce with acks=0, which the broker never answers.
    var expectsResponse: Bool { get }
}

extension KafkaRequest {
    public var expectsResponse: Bool { true }
}

extension ApiVersionsRequest: KafkaRequest { public typealias Response = ApiVersionsResponse }
extension MetadataRequest: KafkaRequest { public typealias Response = MetadataResponse }
extension CreateTopicsRequest: KafkaRequest { public typealias Response = CreateTopicsResponse }
extension DescribeConfigsRequest: KafkaRequest { public typealias Response = DescribeConfigsResponse }
extension IncrementalAlterConfigsRequest: KafkaRequest { public typealias Response = IncrementalAlterConfigsResponse }
extension AlterConfigsRequest: KafkaRequest { public typealias Response = AlterConfigsResponse }
extension DeleteGroupsRequest: KafkaRequest { public typealias Response = DeleteGroupsResponse }
extension OffsetDeleteRequest: KafkaRequest { public typealias Response = OffsetDeleteResponse }
extension DeleteTopicsRequest: KafkaRequest { public typealias Response = DeleteTopicsResponse }
extension CreatePartitionsRequest: KafkaRequest { public typealias Response = CreatePartitionsResponse }
extension DeleteRecordsRequest: KafkaRequest { public typealias Response = DeleteRecordsResponse }
extension OffsetForLeaderEpochRequest: KafkaRequest { public typealias Response = OffsetForLeaderEpochResponse }
extension DescribeLogDirsRequest: KafkaRequest { public typealias Response = DescribeLogDirsResponse }
extension ListOffsetsRequest: KafkaRequest { public typealias Response = ListOffsetsResponse }
extension FetchRequest: KafkaRequest { public typealias Response = FetchResponse }
extension OffsetCommitRequest: KafkaRequest { public typealias Response = OffsetCommitResponse }
extension OffsetFetchRequest: KafkaRequest { public typealias Response = OffsetFetchResponse }
extension FindCoordinatorRequest: KafkaRequest { public typealias Response = FindCoordinatorResponse }
extension InitProducerIdRequest: KafkaRequest { public typealias Response = InitProducerIdResponse }
extension DescribeGroupsRequest: KafkaRequest { public typealias Response = DescribeGroupsResponse }
extension ListGroupsRequest: KafkaRequest { public typealias Response = ListGroupsResponse }

extension ProduceRequest: KafkaRequest {
    public typealias Response = ProduceResponse
    public var expectsResponse: Bool { acks != 0 }
}
