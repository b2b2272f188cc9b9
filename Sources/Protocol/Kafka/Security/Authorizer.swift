/// Decides whether a principal may do an operation on a resource, by Kafka's AclAuthorizer
/// rules: super users may do anything; a matching DENY wins over every ALLOW; an ALLOW of
/// READ, WRITE, DELETE or ALTER also allows DESCRIBE (ALTER_CONFIGS allows DESCRIBE_CONFIGS);
/// ALL stands for every operation; a resource no binding covers is allowed only when
/// `allowEveryoneIfNoAclFound` (Kafka's allow.everyone.if.no.acl.found).
/// Pure: the broker builds one from the stored and built-in bindings and asks it per request.
public struct Authorizer: Sendable {
    public var bindings: [AclBinding]
    public var superUsers: Set<KafkaPrincipal>
    public var allowEveryoneIfNoAclFound: Bool

    public init(bindings: [AclBinding], superUsers: Set<KafkaPrincipal> = [], allowEveryoneIfNoAclFound: Bool) {
        self.bindings = bindings
        self.superUsers = superUsers
        self.allowEveryoneIfNoAclFound = allowEveryoneIfNoAclFound
    }

    /// `host` is the client's address without Kafka's leading "/".
    public func authorize(_ principal: KafkaPrincipal, host: String, _ operation: AclOperation, _ resource: AclResource) -> Bool {
        if superUsers.contains(principal) { return true }
        // One pass, no allocation: this runs for every topic and group of every request.
        var covered = false
        var allowed = false
        for binding in bindings where binding.covers(resource) {
            covered = true
            guard binding.applies(to: principal, host: host) else { continue }
            switch binding.permission {
            case .deny where binding.operation == .all || binding.operation == operation:
                return false
            case .allow where binding.operation == .all || binding.operation.implies(operation):
                allowed = true
            default:
                continue
            }
        }
        return covered ? allowed : allowEveryoneIfNoAclFound
    }

    /// Whether the principal may write some topic: Kafka (KIP-679) lets such a principal
    /// start an idempotent producer without IDEMPOTENT_WRITE on the cluster.
    public func mayWriteSomeTopic(_ principal: KafkaPrincipal, host: String) -> Bool {
        if superUsers.contains(principal) || allowEveryoneIfNoAclFound { return true }
        return bindings.contains { binding in
            binding.resourceType == .topic && binding.permission == .allow
                && (binding.operation == .write || binding.operation == .all) && binding.applies(to: principal, host: host)
        }
    }
}
