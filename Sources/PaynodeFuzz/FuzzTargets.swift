import NIOCore
@testable import PaymentExecutor
@testable import PaymentService
import PaymentEvents
import Payments
import Protocol

/// The decoders that read untrusted bytes, each as a fuzz target: a target must never trap,
/// whatever the bytes; throwing a decoding error is the expected answer to garbage.
enum FuzzTarget: String, CaseIterable {
    /// One Kafka request frame body: the request header, then the body of the API it names,
    /// decoded at the version it names (as the broker does before dispatching).
    case kafkaRequest = "kafka-request"
    /// A byte stream cut into frames by the broker's frame decoder.
    case kafkaFrames = "kafka-frames"
    /// A produce/fetch `records` field: split into batches, each validated and decoded.
    case recordBatch = "record-batch"
    /// A record value and headers read back as the shared event schema.
    case event = "event"
    /// An order creation body: the JSON reader and the request's validation.
    case orderJSON = "order-json"
    /// Records read back from the store: idempotency records, executor attempts, outbox entries
    /// and producer state (an older release, a flipped byte or a bug may have written them).
    case storedRecords = "stored-records"
    /// A PSP webhook as it arrives: a Stripe event body (and the same bytes as a
    /// `Stripe-Signature` header), an Adyen notification, and a value checked against a topic's
    /// `paynode.value.schema`.
    case webhook = "webhook"

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .kafkaRequest: Self.kafkaRequest(bytes)
        case .kafkaFrames: Self.kafkaFrames(bytes)
        case .recordBatch: Self.recordBatch(bytes)
        case .event: Self.event(bytes)
        case .orderJSON:
            _ = try? CreateOrderRequest.parse([UInt8](bytes))
            _ = try? RefundRequest.parse([UInt8](bytes))
        case .storedRecords: Self.storedRecords(bytes)
        case .webhook: Self.webhook(bytes)
        }
    }

    private static func buffer(_ bytes: UnsafeRawBufferPointer) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return buffer
    }

    private static func kafkaRequest(_ bytes: UnsafeRawBufferPointer) {
        var body = buffer(bytes)
        guard let header = try? KafkaRequestHeader.decode(from: &body), let api = header.api,
              api.supportedVersions.contains(header.apiVersion) else { return }
        let version = header.apiVersion
        switch api {
        case .apiVersions: _ = try? ApiVersionsRequest.decode(from: &body, version: version)
        case .metadata: _ = try? MetadataRequest.decode(from: &body, version: version)
        case .produce:
            guard let request = try? ProduceRequest.decode(from: &body, version: version) else { return }
            for topic in request.topicData {
                for partition in topic.partitionData {
                    if let records = partition.records { decodeBatches(records) }
                }
            }
        case .fetch: _ = try? FetchRequest.decode(from: &body, version: version)
        case .listOffsets: _ = try? ListOffsetsRequest.decode(from: &body, version: version)
        case .createTopics: _ = try? CreateTopicsRequest.decode(from: &body, version: version)
        case .describeConfigs: _ = try? DescribeConfigsRequest.decode(from: &body, version: version)
        case .incrementalAlterConfigs: _ = try? IncrementalAlterConfigsRequest.decode(from: &body, version: version)
        case .alterConfigs: _ = try? AlterConfigsRequest.decode(from: &body, version: version)
        case .deleteGroups: _ = try? DeleteGroupsRequest.decode(from: &body, version: version)
        case .offsetDelete: _ = try? OffsetDeleteRequest.decode(from: &body, version: version)
        case .deleteTopics: _ = try? DeleteTopicsRequest.decode(from: &body, version: version)
        case .createPartitions: _ = try? CreatePartitionsRequest.decode(from: &body, version: version)
        case .deleteRecords: _ = try? DeleteRecordsRequest.decode(from: &body, version: version)
        case .offsetForLeaderEpoch: _ = try? OffsetForLeaderEpochRequest.decode(from: &body, version: version)
        case .describeLogDirs: _ = try? DescribeLogDirsRequest.decode(from: &body, version: version)
        case .initProducerId: _ = try? InitProducerIdRequest.decode(from: &body, version: version)
        case .findCoordinator: _ = try? FindCoordinatorRequest.decode(from: &body, version: version)
        case .offsetCommit: _ = try? OffsetCommitRequest.decode(from: &body, version: version)
        case .offsetFetch: _ = try? OffsetFetchRequest.decode(from: &body, version: version)
        case .joinGroup: _ = try? JoinGroupRequest.decode(from: &body, version: version)
        case .syncGroup: _ = try? SyncGroupRequest.decode(from: &body, version: version)
        case .heartbeat: _ = try? HeartbeatRequest.decode(from: &body, version: version)
        case .leaveGroup: _ = try? LeaveGroupRequest.decode(from: &body, version: version)
        case .describeGroups: _ = try? DescribeGroupsRequest.decode(from: &body, version: version)
        case .listGroups: _ = try? ListGroupsRequest.decode(from: &body, version: version)
        case .createAcls:
            guard let request = try? CreateAclsRequest.decode(from: &body, version: version) else { return }
            for creation in request.creations { _ = creation.binding }
        case .describeAcls:
            guard let request = try? DescribeAclsRequest.decode(from: &body, version: version) else { return }
            _ = request.filter.filter
        case .deleteAcls:
            guard let request = try? DeleteAclsRequest.decode(from: &body, version: version) else { return }
            for filter in request.filters { _ = filter.filter }
        case .saslHandshake: _ = try? SaslHandshakeRequest.decode(from: &body, version: version)
        case .saslAuthenticate:
            guard let request = try? SaslAuthenticateRequest.decode(from: &body, version: version) else { return }
            // The token as a client-first message, and as a PLAIN message.
            var scram = ScramServer(hash: .sha256, serverNonce: "fuzz", fakeSaltKey: [1])
            _ = scram.receive(request.authBytes) { _ in nil }
            _ = PlainServer.authenticate(request.authBytes, fakeSaltKey: [1]) { _ in nil }
        }
    }

    private static func kafkaFrames(_ bytes: UnsafeRawBufferPointer) {
        var stream = buffer(bytes)
        var decoder = KafkaFrameDecoder(maximumFrameSize: 1 << 16)
        // The connection guard's byte counter sees the same stream in TCP-like pieces; it must
        // agree with the decoder on frame boundaries, or it would time out honest requests.
        var tracker = KafkaFrameTracker()
        var offset = 0
        var piece = 1
        while offset < bytes.count {
            let count = min(piece, bytes.count - offset)
            tracker.observe(ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])))
            offset += count
            piece = piece % 7 + 1
        }
        var frames = 0
        var clean = true
        while true {
            do {
                guard let frame = try decoder.decode(buffer: &stream) else { break }
                frames += 1
                var body = frame
                _ = try? KafkaRequestHeader.decode(from: &body)
            } catch {
                clean = false
                break
            }
        }
        if clean {
            precondition(tracker.completedFrames == frames, "frame tracker counted \(tracker.completedFrames) frames, the decoder \(frames)")
            precondition(tracker.isInsideFrame == (stream.readableBytes > 0), "frame tracker and decoder disagree on a partial frame")
        }
    }

    private static func recordBatch(_ bytes: UnsafeRawBufferPointer) {
        decodeBatches(buffer(bytes))
    }

    private static func decodeBatches(_ records: ByteBuffer) {
        guard let (batches, _) = try? RecordBatch.split(records) else { return }
        for batch in batches {
            _ = RecordBatch.verifyChecksum(batch)
            _ = try? RecordBatch.validate(batch)
            _ = try? RecordBatch.decodeRecords(batch)
        }
    }

    private static func event(_ bytes: UnsafeRawBufferPointer) {
        let value = [UInt8](bytes)
        _ = try? EventEnvelope.decodeValue(Paynode_Events_V1_PspResultUpdateEvent.self, value: value)
        _ = try? EventEnvelope.decodeValue(Paynode_Events_V1_PaymentOrderCreated.self, value: value)
        _ = try? EventEnvelope.decodeValue(Paynode_Events_V1_RefundRequested.self, value: value)
        if let refund = try? EventEnvelope.decodeValue(Paynode_Events_V1_PspRefundResultEvent.self, value: value) {
            _ = RefundID(refund.refundID)
        }
        // The same bytes as a batch's records too: an event is always read out of one.
        decodeBatches(buffer(bytes))
    }

    private static func webhook(_ bytes: UnsafeRawBufferPointer) {
        let body = [UInt8](bytes)
        _ = StripeWebhookEvent.interpret(body, nowMilliseconds: 1_800_000_000_000)
        if case .success(let items) = AdyenNotification.parse(body) {
            _ = AdyenNotification.interpret(items, nowMilliseconds: 1_800_000_000_000)
            _ = items.map(\.item.signingString)
        }
        let verifier = StripeWebhookVerifier(secrets: ["whsec_fuzz"])
        _ = try? verifier.verify(header: String(decoding: body.prefix(512), as: UTF8.self), payload: body, nowSeconds: 1_800_000_000)
        for check in ValueSchemas.checks.values { _ = check(body) }
    }

    private static func storedRecords(_ bytes: UnsafeRawBufferPointer) {
        let value = [UInt8](bytes)
        _ = IdempotencyRecord(decoding: value)
        _ = try? PaymentExecutor.Attempt.decode(value)
        _ = try? JSON.decode(StoredRefund.self, value)
        _ = try? OutboxEntry.decode(value)
        _ = try? OutboxProducerState.decode(value)
    }
}
