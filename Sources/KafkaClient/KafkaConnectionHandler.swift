import NIOCore

/// Glues a connection's channel to `KafkaInFlightRequests`: writes request frames, remembers
/// their promises in write order, completes them from response frames (already split by
/// `KafkaFrameDecoder`), fails a request that outlives its timeout (and then the connection,
/// since its answer would desynchronise the stream), and fails every waiting request when the
/// connection drops.
final class KafkaConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Outbound
    typealias OutboundOut = ByteBuffer

    /// One request frame. `response` is nil for requests the broker does not answer (acks=0).
    struct Outbound: Sendable {
        var frame: ByteBuffer
        var correlationId: Int32
        var response: EventLoopPromise<ByteBuffer>?
        var timeout: TimeAmount
        var apiName: String
    }

    private struct Waiting {
        var promise: EventLoopPromise<ByteBuffer>
        var timeout: Scheduled<Void>?
        var apiName: String
    }

    private var inFlight = KafkaInFlightRequests<Waiting>()
    private var closedError: KafkaClientError?
    private let broker: String

    init(broker: String) {
        self.broker = broker
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let closedError {
            request.response?.fail(closedError)
            promise?.fail(closedError)
            return
        }
        if let response = request.response {
            let correlationId = request.correlationId
            let apiName = request.apiName
            let timeout = context.eventLoop.assumeIsolated().scheduleTask(in: request.timeout) {
                self.timedOut(correlationId: correlationId, apiName: apiName, after: request.timeout, context: context)
            }
            inFlight.append(correlationId: correlationId, token: Waiting(promise: response, timeout: timeout, apiName: apiName))
        }
        context.write(wrapOutboundOut(request.frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        guard let correlationId = frame.readInteger(endianness: .big, as: Int32.self) else {
            failAll(KafkaClientError(.protocolViolation, "response frame of \(frame.readableBytes) bytes has no correlation id",
                                     broker: broker), context: context)
            return
        }
        switch inFlight.receive(correlationId: correlationId) {
        case .deliver(let waiting):
            waiting.timeout?.cancel()
            waiting.promise.succeed(frame)
        case .protocolViolation(let expected, let failed):
            let error = KafkaClientError(
                .protocolViolation,
                "response with correlation id \(correlationId) but \(expected.map { "\($0)" } ?? "no request") was waiting",
                broker: broker)
            closedError = error
            fail(failed, with: error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(KafkaClientError(.connectionClosed, "connection closed by the broker or the network", broker: broker),
                context: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let wrapped = (error as? KafkaClientError)
            ?? KafkaClientError(.connectionClosed, "connection failed: \(error)", broker: broker)
        failAll(wrapped, context: context)
    }

    private func timedOut(correlationId: Int32, apiName: String, after timeout: TimeAmount, context: ChannelHandlerContext) {
        guard inFlight.contains(correlationId: correlationId) else { return }
        let milliseconds = timeout.nanoseconds / 1_000_000
        failAll(KafkaClientError(.requestTimedOut,
                                 "\(apiName) request (correlation id \(correlationId)) got no response within \(milliseconds) ms; connection closed",
                                 broker: broker), context: context)
    }

    /// Fails every waiting request (with `error` for all of them: none can be answered any
    /// more) and closes the channel when a context is given.
    private func failAll(_ error: KafkaClientError, context: ChannelHandlerContext?) {
        if closedError == nil { closedError = error }
        fail(inFlight.removeAll(), with: closedError ?? error)
        context?.close(promise: nil)
    }

    private func fail(_ waiting: [Waiting], with error: KafkaClientError) {
        for entry in waiting {
            entry.timeout?.cancel()
            var specific = error
            specific.message = "\(entry.apiName): \(error.message)"
            entry.promise.fail(specific)
        }
    }
}
