import Logging
import NIOSSL
import Synchronization

/// A listener's TLS context that SIGHUP can replace: each new connection takes `current`, so
/// after a reload new connections get the new certificate and open ones keep theirs. A reload
/// that fails (a missing file, a key that does not match) keeps the old context and says why.
public final class ReloadableTLSContext: Sendable {
    public let files: ServerTLSFiles
    /// What ALPN offers (see `ServerTLSFiles.makeContext`), kept across reloads.
    public let applicationProtocols: [String]
    private let context: Mutex<NIOSSLContext>

    /// Loads the files now: a listener must not start with a certificate it cannot serve.
    public init(files: ServerTLSFiles, applicationProtocols: [String] = []) throws {
        self.files = files
        self.applicationProtocols = applicationProtocols
        self.context = Mutex(try files.makeContext(applicationProtocols: applicationProtocols))
    }

    public var current: NIOSSLContext { context.withLock { $0 } }

    /// Reads the files again; on failure the old context stays and the error is returned.
    @discardableResult
    public func reload(logger: Logger) -> Bool {
        do {
            let fresh = try files.makeContext(applicationProtocols: applicationProtocols)
            context.withLock { $0 = fresh }
            logger.info("reloaded the TLS certificate", metadata: ["certificate": "\(files.certificateChainFile)"])
            return true
        } catch {
            logger.error("TLS reload failed; keeping the previous certificate", metadata: ["error": "\(error)"])
            return false
        }
    }
}
