import Logging
import LogStore
import Metrics
import NIOCore
import Protocol
import Synchronization
import Telemetry

/// Answers Kafka requests from the log store: decodes the header and body, runs the API, and
/// encodes the response frame. Malformed input gets an error code or a closed connection,
/// never a crash and never a store change.
package final class KafkaBroker: Sendable {
    package struct Configuration: Sendable {
        package var advertisedHost: String
        package var advertisedPort: Int
        package var defaultPartitions: Int
        package var autoCreateTopics: Bool
        package var nodeId: Int32 = 0
        package var clusterId: String = "paynode"
        package var requestLimits = KafkaRequestLimits()
        /// The most a Fetch response carries, whatever the request asks (Kafka's fetch.max.bytes).
        package var maximumFetchBytes: Int = 50 << 20
        /// Topics the node itself owns (the payment topics in `service`): DeleteTopics,
        /// CreatePartitions and DeleteRecords on them answer POLICY_VIOLATION, whatever the ACLs.
        package var protectedTopics: Set<String> = []
        /// The value schemas a topic may require (`paynode.value.schema`), by message name: each
        /// says why a record's value is not that message, or nil.
        package var valueSchemas: [String: @Sendable ([UInt8]?) -> String?] = [:]

        package init(advertisedHost: String, advertisedPort: Int, defaultPartitions: Int, autoCreateTopics: Bool) {
            self.advertisedHost = advertisedHost
            self.advertisedPort = advertisedPort
            self.defaultPartitions = defaultPartitions
            self.autoCreateTopics = autoCreateTopics
        }
    }

    enum Reply {
        case respond(ByteBuffer)
        case noResponse
        case close(String)
        /// Answer, then close: how Kafka ends a refused SASL exchange.
        case respondThenClose(ByteBuffer, String)
    }

    /// The APIs answered today; ApiVersions advertises exactly these.
    static let implementedAPIs: [KafkaAPIKey] = [
        .produce, .fetch, .listOffsets, .metadata, .offsetCommit, .offsetFetch, .findCoordinator,
        .joinGroup, .heartbeat, .leaveGroup, .syncGroup, .describeGroups, .listGroups,
        .apiVersions, .createTopics, .initProducerId, .describeAcls, .createAcls, .deleteAcls, .describeConfigs, .incrementalAlterConfigs,
        .alterConfigs, .deleteGroups, .offsetDelete, .deleteTopics, .createPartitions, .deleteRecords,
        .offsetForLeaderEpoch, .describeLogDirs,
        .saslHandshake, .saslAuthenticate,
    ]

    let store: LogStore
    let coordinator: GroupCoordinator
    let access: BrokerAccessControl
    /// Producer id -> the principal it was issued to (see `refuseBorrowedProducerId`).
    let producerOwners = Mutex<[Int64: String]>([:])
    private let settings: Mutex<Configuration>
    /// Warnings of refused requests, rate-limited per reason.
    let rejections: RateLimitedLogger
    /// Unknown SASL users' fake salts derive from this: the one `paynode users add` stored, so
    /// they survive restarts as real salts do, else a fresh secret per process.
    let fakeSaltKey: [UInt8]

    package init(store: LogStore, coordinator: GroupCoordinator, configuration: Configuration,
                 access: BrokerAccessControl? = nil, logger: Logger = Logger(label: "paynode.kafka")) {
        self.store = store
        self.coordinator = coordinator
        self.access = access ?? BrokerAccessControl(store: store, configuration: .init(), logger: logger)
        self.settings = Mutex(configuration)
        self.rejections = RateLimitedLogger(logger: logger)
        self.fakeSaltKey = SaslCredentialStore.fakeSaltKey(in: store) ?? ScramServer.randomFakeSaltKey()
    }

    var configuration: Configuration { settings.withLock { $0 } }

    private let shuttingDown = Atomic<Bool>(false)

    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    /// Graceful shutdown: waiting fetches are answered now with what they have.
    func beginShutdown() {
        shuttingDown.store(true, ordering: .relaxed)
        store.interruptWaits()
    }

    /// Port 0 listeners learn their port after binding; Metadata must advertise the real one.
    package func setAdvertisedPort(_ port: Int) {
        settings.withLock { $0.advertisedPort = port }
    }

    func handle(frame: ByteBuffer, session: inout KafkaSession, logger: Logger) async -> Reply {
        var frame = frame
        let header: KafkaRequestHeader
        do {
            header = try KafkaRequestHeader.decode(from: &frame)
        } catch {
            return .close("malformed request header: \(error)")
        }
        guard let api = header.api, Self.implementedAPIs.contains(api) else {
            // An API we do not implement: Kafka closes the connection too.
            return .close("unsupported API key \(header.apiKey) from client \(header.clientId ?? "-")")
        }
        // Before a SASL listener's connection authenticates, Kafka answers only these and
        // closes the connection on anything else.
        guard session.mayUseAPIs || api == .apiVersions || api == .saslHandshake || api == .saslAuthenticate else {
            return .close("\(api) before SASL authentication from client \(header.clientId ?? "-")")
        }
        guard api.supportedVersions.contains(header.apiVersion) else {
            if api == .apiVersions {
                // Clients probe with their newest ApiVersions; answer in the v0 layout so
                // they can read the error and retry with a version we support.
                countRequest(api, error: .unsupportedVersion)
                return Self.reply(to: header) { buffer in
                    ApiVersionsResponse(errorCode: KafkaErrorCode.unsupportedVersion.rawValue, apiKeys: Self.advertisedVersions).encode(into: &buffer, version: 0)
                }
            }
            return .close("\(api) v\(header.apiVersion) is not supported (supported: \(api.supportedVersions))")
        }
        do {
            let reply = try await dispatch(api, header: header, body: &frame, session: &session, logger: logger)
            return reply
        } catch let error as KafkaCodecError {
            countRequest(api, error: .invalidRequest)
            return .close("malformed \(api) v\(header.apiVersion) request: \(error)")
        } catch {
            logger.error("request failed", metadata: ["api": "\(api)", "error": "\(error)"])
            return .close("\(api) failed: \(error)")
        }
    }

    private func dispatch(_ api: KafkaAPIKey, header: KafkaRequestHeader, body: inout ByteBuffer, session: inout KafkaSession, logger: Logger) async throws -> Reply {
        let version = header.apiVersion
        let peer = session.clientHost
        func respond(_ response: some KafkaResponseBody) -> Reply {
            Self.reply(to: header) { response.encode(into: &$0, version: version) }
        }
        switch api {
        case .apiVersions:
            let request = try ApiVersionsRequest.decode(from: &body, version: version)
            let code: KafkaErrorCode = request.hasValidClientSoftware ? .none : .invalidRequest
            countRequest(api, error: code)
            return respond(ApiVersionsResponse(errorCode: code.rawValue, apiKeys: Self.advertisedVersions, throttleTimeMs: 0))
        case .metadata:
            let request = try MetadataRequest.decode(from: &body, version: version)
            let response = await metadata(request, version: version, session: session)
            return respond(authorizeMetadata(response, requestedAll: request.topics == nil, session: session))
        case .produce:
            var request = try ProduceRequest.decode(from: &body, version: version)
            if let refusal = refuseOversized(request, peer: peer) {
                // acks=0 producers read no answer; closing is the only refusal they notice.
                return request.acks == 0 ? .close("oversized acks=0 Produce request") : respond(refusal)
            }
            let denied = authorizeProduce(&request, session: session)
            if !denied.isEmpty && request.acks == 0 { return .close("acks=0 Produce to a topic \(session.principal) may not write") }
            var response = request.topicData.isEmpty ? ProduceResponse(responses: []) : await produce(request, session: session, logger: logger)
            response.responses += denied
            if !denied.isEmpty { countRequest(.produce, error: .topicAuthorizationFailed) }
            return request.acks == 0 ? .noResponse : respond(response)
        case .fetch:
            var request = try FetchRequest.decode(from: &body, version: version)
            if let refusal = refuseOversized(request, peer: peer) { return respond(refusal) }
            let denied = authorizeFetch(&request, session: session)
            guard !request.topics.isEmpty || denied.isEmpty else {
                countRequest(.fetch, error: .topicAuthorizationFailed)
                return respond(FetchResponse(responses: denied))
            }
            var response = await fetch(request)
            response.responses += denied
            return respond(response)
        case .listOffsets:
            var request = try ListOffsetsRequest.decode(from: &body, version: version)
            let denied = authorizeListOffsets(&request, session: session)
            var response = listOffsets(request)
            response.topics += denied
            return respond(response)
        case .createTopics:
            var request = try CreateTopicsRequest.decode(from: &body, version: version)
            let denied = authorizeCreateTopics(&request, session: session)
            var response = await createTopics(request)
            response.topics += denied
            return respond(response)
        case .initProducerId:
            let request = try InitProducerIdRequest.decode(from: &body, version: version)
            guard request.transactionalId != nil || mayStartIdempotentProducer(session) else {
                countRequest(.initProducerId, error: .clusterAuthorizationFailed)
                return respond(InitProducerIdResponse(errorCode: KafkaErrorCode.clusterAuthorizationFailed.rawValue, producerId: -1, producerEpoch: -1))
            }
            return respond(await initProducerId(request, session: session))
        case .findCoordinator:
            let request = try FindCoordinatorRequest.decode(from: &body, version: version)
            if request.keyType == 0, !authorized(session, .describe, .group(request.key)) {
                countRequest(.findCoordinator, error: .groupAuthorizationFailed)
                return respond(FindCoordinatorResponse(errorCode: Self.groupDenied, errorMessage: "\(session.principal) may not describe group \(request.key)",
                                                       nodeId: -1, host: "", port: -1))
            }
            return respond(findCoordinator(request))
        case .offsetCommit:
            var request = try OffsetCommitRequest.decode(from: &body, version: version)
            if let refusal = refuseOversized(request, peer: peer) { return respond(refusal) }
            let denied = authorizeOffsetCommit(&request, session: session)
            var response = request.topics.isEmpty ? OffsetCommitResponse(topics: []) : await offsetCommit(request)
            response.topics += denied
            if !denied.isEmpty { countRequest(.offsetCommit, error: KafkaErrorCode(rawValue: denied[0].partitions.first?.errorCode ?? 0) ?? .none) }
            return respond(response)
        case .offsetFetch:
            let request = try OffsetFetchRequest.decode(from: &body, version: version)
            guard authorized(session, .describe, .group(request.groupId)) else {
                countRequest(.offsetFetch, error: .groupAuthorizationFailed)
                // v1 has no top-level error code: each named partition carries it.
                return respond(OffsetFetchResponse(topics: (request.topics ?? []).map { topic in
                    .init(name: topic.name, partitions: topic.partitionIndexes.map {
                        .init(partitionIndex: $0, committedOffset: -1, metadata: "", errorCode: Self.groupDenied)
                    })
                }, errorCode: Self.groupDenied))
            }
            return respond(authorizeOffsetFetch(offsetFetch(request), session: session))
        case .joinGroup:
            let request = try JoinGroupRequest.decode(from: &body, version: version)
            guard authorized(session, .read, .group(request.groupId)) else {
                countRequest(.joinGroup, error: .groupAuthorizationFailed)
                return respond(JoinGroupResponse(errorCode: Self.groupDenied, memberId: request.memberId))
            }
            return respond(await joinGroup(request, header: header, peer: peer))
        case .syncGroup:
            let request = try SyncGroupRequest.decode(from: &body, version: version)
            guard authorized(session, .read, .group(request.groupId)) else {
                countRequest(.syncGroup, error: .groupAuthorizationFailed)
                return respond(SyncGroupResponse(errorCode: Self.groupDenied))
            }
            return respond(await syncGroup(request))
        case .heartbeat:
            let request = try HeartbeatRequest.decode(from: &body, version: version)
            guard authorized(session, .read, .group(request.groupId)) else {
                countRequest(.heartbeat, error: .groupAuthorizationFailed)
                return respond(HeartbeatResponse(errorCode: Self.groupDenied))
            }
            return respond(heartbeat(request))
        case .leaveGroup:
            let request = try LeaveGroupRequest.decode(from: &body, version: version)
            guard authorized(session, .read, .group(request.groupId)) else {
                countRequest(.leaveGroup, error: .groupAuthorizationFailed)
                return respond(LeaveGroupResponse(errorCode: Self.groupDenied))
            }
            return respond(leaveGroup(request, version: version))
        case .describeGroups:
            return respond(describeGroups(try DescribeGroupsRequest.decode(from: &body, version: version), session: session))
        case .listGroups:
            _ = try ListGroupsRequest.decode(from: &body, version: version)
            return respond(listGroups(session: session))
        case .describeAcls:
            return respond(describeAcls(try DescribeAclsRequest.decode(from: &body, version: version), session: session))
        case .createAcls:
            return respond(await createAcls(try CreateAclsRequest.decode(from: &body, version: version), session: session))
        case .deleteAcls:
            return respond(await deleteAcls(try DeleteAclsRequest.decode(from: &body, version: version), session: session))
        case .describeConfigs:
            return respond(describeConfigs(try DescribeConfigsRequest.decode(from: &body, version: version), version: version, session: session))
        case .incrementalAlterConfigs:
            return respond(await incrementalAlterConfigs(try IncrementalAlterConfigsRequest.decode(from: &body, version: version), session: session))
        case .alterConfigs:
            return respond(await alterConfigs(try AlterConfigsRequest.decode(from: &body, version: version), session: session))
        case .deleteGroups:
            return respond(await deleteGroups(try DeleteGroupsRequest.decode(from: &body, version: version), session: session))
        case .offsetDelete:
            return respond(await offsetDelete(try OffsetDeleteRequest.decode(from: &body, version: version), session: session))
        case .deleteTopics:
            return respond(await deleteTopics(try DeleteTopicsRequest.decode(from: &body, version: version), session: session))
        case .createPartitions:
            return respond(await createPartitions(try CreatePartitionsRequest.decode(from: &body, version: version), session: session))
        case .deleteRecords:
            return respond(await deleteRecords(try DeleteRecordsRequest.decode(from: &body, version: version), session: session))
        case .offsetForLeaderEpoch:
            return respond(offsetForLeaderEpoch(try OffsetForLeaderEpochRequest.decode(from: &body, version: version), session: session))
        case .describeLogDirs:
            return respond(describeLogDirs(try DescribeLogDirsRequest.decode(from: &body, version: version), session: session))
        case .saslHandshake:
            let request = try SaslHandshakeRequest.decode(from: &body, version: version)
            return saslHandshake(request, header: header, session: &session, logger: logger)
        case .saslAuthenticate:
            let request = try SaslAuthenticateRequest.decode(from: &body, version: version)
            return saslAuthenticate(request, header: header, session: &session, logger: logger)
        }
    }

    /// A framed response, or closing the connection when it cannot be framed.
    static func reply(to header: KafkaRequestHeader, body: (inout ByteBuffer) -> Void) -> Reply {
        do {
            return .respond(try KafkaResponseFrame.encode(correlationId: header.correlationId,
                                                          flexibleHeader: header.hasFlexibleResponseHeader, body: body))
        } catch {
            return .close("response cannot be sent: \(error)")
        }
    }

    static let advertisedVersions: [ApiVersionsResponse.ApiVersion] = implementedAPIs.map {
        ApiVersionsResponse.ApiVersion(apiKey: $0.rawValue, minVersion: $0.supportedVersions.lowerBound,
                                       maxVersion: $0.supportedVersions.upperBound)
    }

    func countRequest(_ api: KafkaAPIKey, error: KafkaErrorCode) {
        Counter(label: "paynode_kafka_requests_total",
                dimensions: [("api", api.description), ("error_code", "\(error.rawValue)")]).increment()
    }
}
