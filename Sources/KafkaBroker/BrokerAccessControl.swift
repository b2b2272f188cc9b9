import Logging
import LogStore
import Protocol
import Synchronization

/// The broker's authorizer: the built-in bindings the node's role needs (a service's payment
/// defaults) plus the bindings stored in its LogStore (`paynode acls`, CreateAcls). Stored
/// bindings are re-read at most once per `refreshInterval`, so `paynode acls add` run against
/// a live node's data directory takes effect within it.
package final class BrokerAccessControl: Sendable {
    package struct Configuration: Sendable {
        /// Bindings that always apply and cannot be deleted (listed as built-in).
        package var builtInBindings: [AclBinding] = []
        package var superUsers: Set<KafkaPrincipal> = []
        /// Kafka's allow.everyone.if.no.acl.found.
        package var allowEveryoneIfNoAclFound = true
        package var refreshInterval: Duration = .seconds(1)

        package init() {}
    }

    /// The stored bindings as last read, and the authorizer over them and the built-in ones.
    private struct Snapshot {
        var stored: [AclBinding]
        var authorizer: Authorizer
        var loadedAt: ContinuousClock.Instant

        init(stored: [AclBinding], configuration: Configuration, loadedAt: ContinuousClock.Instant) {
            self.stored = stored
            authorizer = Authorizer(bindings: configuration.builtInBindings + stored, superUsers: configuration.superUsers,
                                    allowEveryoneIfNoAclFound: configuration.allowEveryoneIfNoAclFound)
            self.loadedAt = loadedAt
        }
    }

    let configuration: Configuration
    private let store: LogStore
    private let logger: Logger
    private let snapshot: Mutex<Snapshot>

    package init(store: LogStore, configuration: Configuration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.snapshot = Mutex(Snapshot(stored: Self.readStoredBindings(store, logger: logger), configuration: configuration, loadedAt: .now))
    }

    var authorizer: Authorizer { current { $0.authorizer } }

    /// The stored bindings the authorizer decides by (DescribeAcls lists them after the
    /// configuration's built-in ones).
    var storedBindings: [AclBinding] { current { $0.stored } }

    /// `part` of the snapshot, read again first when it is older than `refreshInterval`. Only
    /// `part` is copied out: the authorizer is taken on every request.
    private func current<Part: Sendable>(_ part: (Snapshot) -> Part) -> Part {
        let now = ContinuousClock.now
        if let current = snapshot.withLock({ now - $0.loadedAt < configuration.refreshInterval ? part($0) : nil }) {
            return current
        }
        let fresh = Snapshot(stored: Self.readStoredBindings(store, logger: logger), configuration: configuration, loadedAt: now)
        snapshot.withLock { $0 = fresh }
        return part(fresh)
    }

    /// Makes the next decision read the stored bindings again (after CreateAcls/DeleteAcls).
    func invalidate() {
        snapshot.withLock { $0.loadedAt = ContinuousClock.now - configuration.refreshInterval }
    }

    func authorize(_ session: KafkaSession, _ operation: AclOperation, _ resource: AclResource) -> Bool {
        authorizer.authorize(session.principal, host: session.address, operation, resource)
    }

    /// Every stored binding; a key that does not decode is skipped and named in the log rather
    /// than failing every request.
    package static func readStoredBindings(_ store: LogStore, logger: Logger) -> [AclBinding] {
        do {
            return try store.read { transaction -> [AclBinding] in
                guard let table = transaction.table(StoredAcl.table) else { return [] }
                return try table.scan().compactMap { entry in
                    guard let binding = StoredAcl.binding(entry.key) else {
                        logger.error("skipping an undecodable ACL entry", metadata: ["bytes": "\(entry.key.count)"])
                        return nil
                    }
                    return binding
                }
            }
        } catch {
            logger.error("cannot read the stored ACLs; only the built-in ones apply", metadata: ["error": "\(error)"])
            return []
        }
    }
}

extension KafkaSession {
    /// The client's address as ACL hosts name it (without Kafka's leading "/").
    var address: String { clientHost.hasPrefix("/") ? String(clientHost.dropFirst()) : clientHost }
}
