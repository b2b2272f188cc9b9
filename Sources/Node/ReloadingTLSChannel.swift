import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import TLSSupport

/// Puts TLS in front of an HTTP child channel with the certificate current when the connection
/// is accepted (Hummingbird's own TLSChannel fixes its context once, so SIGHUP could not swap it).
struct ReloadingTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let context: ReloadableTLSContext
    /// A handshake not complete within this closes the connection.
    let handshakeTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = self.context.current
        let handshakeTimeout = self.handshakeTimeout
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
            try channel.pipeline.syncOperations.addHandler(TLSHandshakeDeadline(timeout: handshakeTimeout))
        }.flatMap {
            self.base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
