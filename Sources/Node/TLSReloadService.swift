import Logging
import ServiceLifecycle
import UnixSignals
import TLSSupport

/// Reads the TLS certificate and key again on each SIGHUP, as operators rotate certificates:
/// connections opened afterwards get the new ones; a bad new file keeps the old (and is logged).
struct TLSReloadService: Service {
    /// The node's listener contexts (the Kafka one and an HTTP one offering HTTP/2 by ALPN
    /// share the files but not the context).
    let contexts: [ReloadableTLSContext]
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                for context in contexts { context.reload(logger: logger) }
            }
        }
    }
}
