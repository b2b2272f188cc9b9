import Logging
import NIOCore
import NIOPosix
import Protocol
import Synchronization

/// One TCP connection to a Kafka broker. Requests are pipelined: any number may be in flight,
/// and responses are matched to them by correlation id in order. On connect it authenticates
/// first when the security protocol uses SASL (`Configuration.sasl`), then asks the broker for
/// its ApiVersions and uses, for each API, the highest version both sides support.
/// A request that gets no answer within its timeout fails with `.requestTimedOut` and closes the
/// connection; when the connection drops, every waiting request fails with `.connectionClosed`.
public final class KafkaConnection: Sendable {
    public struct Configuration: Sendable {
        public var clientId: String
        public var connectTimeout: Duration
        public var requestTimeout: Duration
        /// The largest response frame accepted (Fetch responses are the large ones).
        public var maximumResponseSize: Int
        /// The broker listener's security protocol. TLS and SASL are set up on connect, before
        /// ApiVersions is asked (SASL) or before any byte (TLS).
        public var securityProtocol: KafkaSecurityProtocol = .plaintext
        /// What encrypts the connection; required when `securityProtocol.usesTLS`
        /// (KafkaClientTLS's `NIOSSLTransportSecurity`), ignored otherwise.
        public var transportSecurity: (any KafkaTransportSecurity)?
        /// Required when `securityProtocol` uses SASL.
        public var sasl: KafkaSaslCredentials?

        public init(clientId: String = "paynode", connectTimeout: Duration = .seconds(10),
                    requestTimeout: Duration = .seconds(30), maximumResponseSize: Int = 128 << 20) {
            self.clientId = clientId
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.maximumResponseSize = maximumResponseSize
        }
    }

    public let address: KafkaBrokerAddress
    /// The negotiated version of each API.
    public let versions: KafkaAPIVersions
    private let channel: any Channel
    private let configuration: Configuration
    private let nextCorrelationId: Atomic<Int32>

    private init(address: KafkaBrokerAddress, channel: any Channel, configuration: Configuration,
                 versions: KafkaAPIVersions, nextCorrelationId: Int32) {
        self.address = address
        self.channel = channel
        self.configuration = configuration
        self.versions = versions
        self.nextCorrelationId = Atomic(nextCorrelationId)
    }

    /// Connects and negotiates API versions. Throws `.connectionFailed` when the broker cannot
    /// be reached and `.unsupportedVersion` when it answers no ApiVersions version we speak.
    public static func connect(to address: KafkaBrokerAddress, configuration: Configuration = Configuration(),
                               eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> KafkaConnection {
        let broker = address.description
        let maximumResponseSize = configuration.maximumResponseSize
        let tls = try transportSecurity(configuration)
        let host = address.host
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoopGroup)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.nanoseconds(configuration.connectTimeout.nanoseconds))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try tls.addClientHandler(to: channel.pipeline.syncOperations, host: host)
                        }
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(KafkaFrameDecoder(maximumFrameSize: maximumResponseSize)),
                            KafkaConnectionHandler(broker: broker))
                    }
                }
                .connect(host: address.host, port: address.port)
                .get()
        } catch {
            throw KafkaClientError(.connectionFailed, "cannot connect: \(error)", broker: broker)
        }
        do {
            var correlationId: Int32 = 0
            if configuration.securityProtocol.usesSASL {
                try await authenticate(channel: channel, configuration: configuration, correlationId: &correlationId, broker: broker)
            }
            var version = KafkaAPIKey.apiVersions.supportedVersions.upperBound
            while true {
                let frame = try await exchange(channel: channel, api: .apiVersions, version: version, correlationId: correlationId,
                                               clientId: configuration.clientId, timeout: configuration.requestTimeout,
                                               expectsResponse: true) { Self.apiVersionsRequest.encode(into: &$0, version: version) }
                correlationId += 1
                let response = try decode(ApiVersionsResponse.self, of: .apiVersions, from: frame ?? ByteBuffer(), version: version, broker: broker)
                if let retry = KafkaAPIVersions.apiVersionsRetryVersion(after: response, tried: version) {
                    version = retry
                    continue
                }
                guard response.errorCode == 0 else {
                    throw KafkaClientError.broker(response.errorCode, "ApiVersions v\(version) failed", broker: broker)
                }
                return KafkaConnection(address: address, channel: channel, configuration: configuration,
                                       versions: KafkaAPIVersions(broker: response.apiKeys), nextCorrelationId: correlationId)
            }
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// SaslHandshake v1 and SaslAuthenticate v1 (every broker since Kafka 1.0 speaks them, and
    /// a SASL listener answers nothing else but ApiVersions before authentication).
    private static func authenticate(channel: any Channel, configuration: Configuration, correlationId: inout Int32,
                                     broker: String) async throws {
        guard let credentials = configuration.sasl else {
            throw KafkaClientError(.invalidArgument, "security protocol \(configuration.securityProtocol) needs SASL credentials", broker: broker)
        }
        var client = KafkaSaslClient(credentials: credentials)
        var next = client.start()
        // Handshake, then at most two SCRAM round trips; a broker asking for more is not speaking SCRAM.
        for _ in 0..<4 {
            let id = correlationId
            correlationId += 1
            do {
                switch next {
                case .authenticated:
                    return
                case .sendHandshake(let request):
                    let frame = try await exchange(channel: channel, api: .saslHandshake, version: 1, correlationId: id,
                                                   clientId: configuration.clientId, timeout: configuration.requestTimeout,
                                                   expectsResponse: true) { request.encode(into: &$0, version: 1) }
                    next = try client.receive(try decode(SaslHandshakeResponse.self, of: .saslHandshake, from: frame ?? ByteBuffer(), version: 1, broker: broker))
                case .sendAuthenticate(let request):
                    let frame = try await exchange(channel: channel, api: .saslAuthenticate, version: 1, correlationId: id,
                                                   clientId: configuration.clientId, timeout: configuration.requestTimeout,
                                                   expectsResponse: true) { request.encode(into: &$0, version: 1) }
                    next = try client.receive(try decode(SaslAuthenticateResponse.self, of: .saslAuthenticate, from: frame ?? ByteBuffer(), version: 1, broker: broker))
                }
            } catch var error as KafkaClientError {
                error.broker = error.broker ?? broker
                throw error
            }
        }
        if next != .authenticated {
            throw KafkaClientError(.protocolViolation, "SASL exchange did not end", broker: broker)
        }
    }

    public var isActive: Bool { channel.isActive }

    private static func transportSecurity(_ configuration: Configuration) throws(KafkaClientError) -> (any KafkaTransportSecurity)? {
        guard configuration.securityProtocol.usesTLS else { return nil }
        guard let security = configuration.transportSecurity else {
            throw KafkaClientError(.invalidArgument, "security protocol \(configuration.securityProtocol) needs a transport security (KafkaClientTLS)")
        }
        return security
    }

    /// Sends a request at the negotiated version and waits for its response (or, for
    /// acks=0 Produce, only until it is written: the result is then nil).
    public func send<Request: KafkaRequest>(_ request: Request, timeout: Duration? = nil) async throws -> Request.Response? {
        let version = try versions.require(Request.apiKey, broker: address.description)
        return try await send(request, version: version, timeout: timeout)
    }

    /// Sends a request at an explicit version (which must be one the codecs speak).
    public func send<Request: KafkaRequest>(_ request: Request, version: Int16, timeout: Duration? = nil) async throws -> Request.Response? {
        let correlationId = nextCorrelationId.wrappingAdd(1, ordering: .relaxed).oldValue
        let frame = try await Self.exchange(channel: channel, api: Request.apiKey, version: version, correlationId: correlationId,
                                            clientId: configuration.clientId, timeout: timeout ?? configuration.requestTimeout,
                                            expectsResponse: request.expectsResponse) { request.encode(into: &$0, version: version) }
        guard let frame else { return nil }
        return try Self.decode(Request.Response.self, of: Request.apiKey, from: frame, version: version, broker: address.description)
    }

    /// Like `send`, for requests that always get a response.
    public func request<Request: KafkaRequest>(_ request: Request, timeout: Duration? = nil) async throws -> Request.Response {
        guard let response = try await send(request, timeout: timeout) else {
            throw KafkaClientError(.invalidArgument, "\(Request.apiKey) request expects no response", broker: address.description)
        }
        return response
    }

    /// v3+ names the client; Kafka refuses a name or version that is empty or not of its
    /// pattern (letters, digits, '.', '-').
    static let apiVersionsRequest = ApiVersionsRequest(clientSoftwareName: "paynode-kafka-client", clientSoftwareVersion: "1.0")

    /// Closes the connection; waiting requests fail with `.connectionClosed`.
    public func close() async {
        try? await channel.close()
    }

    private static func exchange(channel: any Channel, api: KafkaAPIKey, version: Int16, correlationId: Int32, clientId: String,
                                 timeout: Duration, expectsResponse: Bool,
                                 body: (inout ByteBuffer) -> Void) async throws -> ByteBuffer? {
        let header = KafkaRequestHeader(apiKey: api.rawValue, apiVersion: version, correlationId: correlationId, clientId: clientId)
        let frame = try KafkaRequestFrame.encode(header: header, allocator: channel.allocator, body: body)
        let response = expectsResponse ? channel.eventLoop.makePromise(of: ByteBuffer.self) : nil
        let outbound = KafkaConnectionHandler.Outbound(frame: frame, correlationId: correlationId, response: response,
                                                       timeout: .nanoseconds(timeout.nanoseconds), apiName: "\(api) v\(version)")
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(outbound, promise: written)
        guard let response else {
            try await written.futureResult.get()
            return nil
        }
        // A failed write (e.g. on a closed channel, before the handler saw it) fails the response.
        written.futureResult.whenFailure { error in
            response.fail((error as? KafkaClientError) ?? KafkaClientError(.connectionClosed, "write failed: \(error)"))
        }
        return try await response.futureResult.get()
    }

    private static func decode<Response: KafkaResponseBody>(_ type: Response.Type, of api: KafkaAPIKey, from frame: ByteBuffer,
                                                           version: Int16, broker: String) throws(KafkaClientError) -> Response {
        var body = frame
        do {
            try KafkaResponseFrame.skipHeaderTaggedFields(in: &body, api: api, version: version)
            return try Response.decode(from: &body, version: version)
        } catch {
            throw KafkaClientError(.protocolViolation, "cannot decode \(Response.self) v\(version): \(error)", broker: broker)
        }
    }
}
