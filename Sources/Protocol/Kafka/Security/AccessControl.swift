/// Kafka's authorization model (KIP-11, KIP-290): an ACL binding allows or denies one
/// principal, from one host, one operation on the resources its pattern matches. Codes are
/// Kafka's own, so the same values travel in CreateAcls/DescribeAcls and in `paynode acls`.
public enum AclResourceType: Int8, Sendable, ParsableByDescription {
    case any = 1
    case topic = 2
    case group = 3
    case cluster = 4
    case transactionalId = 5

    public var description: String {
        switch self {
        case .any: "Any"
        case .topic: "Topic"
        case .group: "Group"
        case .cluster: "Cluster"
        case .transactionalId: "TransactionalId"
        }
    }
}

public enum AclOperation: Int8, Sendable, ParsableByDescription {
    case any = 1
    case all = 2
    case read = 3
    case write = 4
    case create = 5
    case delete = 6
    case alter = 7
    case describe = 8
    case clusterAction = 9
    case describeConfigs = 10
    case alterConfigs = 11
    case idempotentWrite = 12

    public var description: String {
        switch self {
        case .any: "Any"
        case .all: "All"
        case .read: "Read"
        case .write: "Write"
        case .create: "Create"
        case .delete: "Delete"
        case .alter: "Alter"
        case .describe: "Describe"
        case .clusterAction: "ClusterAction"
        case .describeConfigs: "DescribeConfigs"
        case .alterConfigs: "AlterConfigs"
        case .idempotentWrite: "IdempotentWrite"
        }
    }

    /// Kafka's tools spell operations IDEMPOTENT_WRITE as well as IdempotentWrite.
    public static func foldedForParsing(_ text: some StringProtocol) -> String {
        String(text.lowercased().filter { $0 != "_" })
    }

    /// The operations an ALLOW of this one also grants, as Kafka's AclAuthorizer: whoever may
    /// read, write, delete or alter may also describe; whoever may alter configs may describe them.
    func implies(_ operation: AclOperation) -> Bool {
        if operation == self { return true }
        switch self {
        case .read, .write, .delete, .alter: return operation == .describe
        case .alterConfigs: return operation == .describeConfigs
        default: return false
        }
    }
}

public enum AclPermission: Int8, Sendable, ParsableByDescription {
    case any = 1
    case deny = 2
    case allow = 3

    public var description: String {
        switch self {
        case .any: "Any"
        case .deny: "Deny"
        case .allow: "Allow"
        }
    }
}

/// How an ACL's resource name matches: exactly (`*` meaning every name) or as a prefix.
public enum AclPatternType: Int8, Sendable, ParsableByDescription {
    case any = 1
    case match = 2
    case literal = 3
    case prefixed = 4

    public var description: String {
        switch self {
        case .any: "Any"
        case .match: "Match"
        case .literal: "Literal"
        case .prefixed: "Prefixed"
        }
    }
}

/// A resource a request touches.
public struct AclResource: Hashable, Sendable, CustomStringConvertible {
    public var type: AclResourceType
    public var name: String

    public init(_ type: AclResourceType, _ name: String) {
        self.type = type
        self.name = name
    }

    /// Kafka names the one cluster resource "kafka-cluster".
    public static let cluster = AclResource(.cluster, "kafka-cluster")

    public static func topic(_ name: String) -> AclResource { AclResource(.topic, name) }
    public static func group(_ name: String) -> AclResource { AclResource(.group, name) }

    public var description: String { "\(type):\(name)" }
}

/// One ACL: `permission` for `principal` from `host` to do `operation` on the resources
/// `resourceName` (under `patternType`) names.
public struct AclBinding: Hashable, Sendable, CustomStringConvertible {
    public var resourceType: AclResourceType
    public var resourceName: String
    public var patternType: AclPatternType
    public var principal: String
    public var host: String
    public var operation: AclOperation
    public var permission: AclPermission

    public init(resourceType: AclResourceType, resourceName: String, patternType: AclPatternType = .literal,
                principal: String, host: String = "*", operation: AclOperation, permission: AclPermission) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    public static let wildcard = "*"

    /// Why a binding cannot be stored (the filter-only values ANY/MATCH, empty names), or nil.
    public var validationError: String? {
        if resourceType == .any { return "resource type Any is only for filters" }
        if patternType == .any || patternType == .match { return "pattern type \(patternType) is only for filters" }
        if operation == .any { return "operation Any is only for filters" }
        if permission == .any { return "permission Any is only for filters" }
        if resourceName.isEmpty { return "the resource name is empty" }
        if resourceName.utf8.count > 255 { return "the resource name is longer than 255 bytes" }
        if KafkaPrincipal(parsing: principal) == nil { return "principal \"\(principal)\" is not Type:name" }
        if host.isEmpty || host.utf8.count > 255 { return "the host must be * or an address" }
        return nil
    }

    /// Whether this binding's pattern covers `resource`.
    func covers(_ resource: AclResource) -> Bool {
        guard resourceType == resource.type else { return false }
        switch patternType {
        case .literal: return resourceName == Self.wildcard || resourceName == resource.name
        case .prefixed: return resource.name.hasPrefix(resourceName)
        case .any, .match: return false
        }
    }

    func applies(to principal: KafkaPrincipal, host: String) -> Bool {
        guard self.host == Self.wildcard || self.host == host else { return false }
        // "Type:name" compared piecewise, without building the principal's text.
        let utf8 = self.principal.utf8
        guard let colon = utf8.firstIndex(of: UInt8(ascii: ":")),
              utf8[..<colon].elementsEqual(principal.type.utf8) else { return false }
        let name = utf8[utf8.index(after: colon)...]
        return name.elementsEqual(principal.name.utf8) || name.elementsEqual(Self.wildcard.utf8)
    }

    public var description: String {
        "\(permission) \(principal) from \(host) \(operation) on \(resourceType):\(patternType == .prefixed ? resourceName + "*" : resourceName)"
    }
}

/// A filter over bindings (DescribeAcls, DeleteAcls, `paynode acls list`): nil fields and the
/// ANY values match everything; MATCH pattern matches what would apply to that literal name.
public struct AclBindingFilter: Sendable {
    public var resourceType: AclResourceType = .any
    public var resourceName: String?
    public var patternType: AclPatternType = .any
    public var principal: String?
    public var host: String?
    public var operation: AclOperation = .any
    public var permission: AclPermission = .any

    public init(resourceType: AclResourceType = .any, resourceName: String? = nil, patternType: AclPatternType = .any,
                principal: String? = nil, host: String? = nil, operation: AclOperation = .any, permission: AclPermission = .any) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    public func matches(_ binding: AclBinding) -> Bool {
        if resourceType != .any && resourceType != binding.resourceType { return false }
        if operation != .any && operation != binding.operation { return false }
        if permission != .any && permission != binding.permission { return false }
        if let principal, principal != binding.principal { return false }
        if let host, host != binding.host { return false }
        switch patternType {
        case .any:
            if let resourceName, resourceName != binding.resourceName { return false }
        case .match:
            guard let resourceName else { return true }
            return binding.covers(AclResource(binding.resourceType, resourceName))
        case .literal, .prefixed:
            if patternType != binding.patternType { return false }
            if let resourceName, resourceName != binding.resourceName { return false }
        }
        return true
    }
}
