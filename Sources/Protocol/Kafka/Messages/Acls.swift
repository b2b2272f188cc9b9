import NIOCore

/// The ACL fields every ACL API carries, in wire order: resource type, name, pattern type
/// (v1+; v0 means LITERAL), principal, host, operation, permission. Bytes read as raw codes
/// (`Int8`), so an unknown code reaches the broker, which answers it with an error instead of
/// the codec closing the connection.
public struct AclWireBinding: Sendable, Hashable {
    public var resourceType: Int8
    public var resourceName: String?
    public var patternType: Int8
    public var principal: String?
    public var host: String?
    public var operation: Int8
    public var permission: Int8

    public init(resourceType: Int8, resourceName: String?, patternType: Int8, principal: String?, host: String?,
                operation: Int8, permission: Int8) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    public init(_ binding: AclBinding) {
        self.init(resourceType: binding.resourceType.rawValue, resourceName: binding.resourceName,
                  patternType: binding.patternType.rawValue, principal: binding.principal, host: binding.host,
                  operation: binding.operation.rawValue, permission: binding.permission.rawValue)
    }

    /// The binding these codes name, or why they do not name one that can be stored.
    public var binding: Result<AclBinding, AclWireError> {
        decodedCodes.flatMap { type, pattern, operation, permission in
            let binding = AclBinding(resourceType: type, resourceName: resourceName ?? "", patternType: pattern,
                                     principal: principal ?? "", host: host ?? "", operation: operation, permission: permission)
            if let error = binding.validationError { return .failure(.init(error)) }
            return .success(binding)
        }
    }

    /// The filter these codes name (nil strings match everything).
    public var filter: Result<AclBindingFilter, AclWireError> {
        decodedCodes.map { type, pattern, operation, permission in
            AclBindingFilter(resourceType: type, resourceName: resourceName, patternType: pattern, principal: principal,
                             host: host, operation: operation, permission: permission)
        }
    }

    /// The four codes as their enums, or which one is unknown.
    private var decodedCodes: Result<(AclResourceType, AclPatternType, AclOperation, AclPermission), AclWireError> {
        guard let type = AclResourceType(rawValue: resourceType) else { return .failure(.init("unknown resource type \(resourceType)")) }
        guard let pattern = AclPatternType(rawValue: patternType) else { return .failure(.init("unknown pattern type \(patternType)")) }
        guard let operation = AclOperation(rawValue: operation) else { return .failure(.init("unknown operation \(self.operation)")) }
        guard let permission = AclPermission(rawValue: permission) else { return .failure(.init("unknown permission type \(self.permission)")) }
        return .success((type, pattern, operation, permission))
    }

    static func decode(from buffer: inout ByteBuffer, version: Int16, nullable: Bool) throws(KafkaCodecError) -> Self {
        func string(_ field: StaticString, _ buffer: inout ByteBuffer) throws(KafkaCodecError) -> String? {
            nullable ? try buffer.readKafkaNullableString(field) : try buffer.readKafkaString(field)
        }
        let resourceType: Int8 = try buffer.readKafkaInteger("resource_type")
        let name = try string("resource_name", &buffer)
        let pattern: Int8 = try version >= 1 ? buffer.readKafkaInteger("pattern_type") : AclPatternType.literal.rawValue
        let principal = try string("principal", &buffer)
        let host = try string("host", &buffer)
        let operation: Int8 = try buffer.readKafkaInteger("operation")
        let permission: Int8 = try buffer.readKafkaInteger("permission_type")
        return AclWireBinding(resourceType: resourceType, resourceName: name, patternType: pattern, principal: principal, host: host,
                              operation: operation, permission: permission)
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(resourceType)
        buffer.writeKafkaNullableString(resourceName)
        if version >= 1 { buffer.writeKafkaInteger(patternType) }
        buffer.writeKafkaNullableString(principal)
        buffer.writeKafkaNullableString(host)
        buffer.writeKafkaInteger(operation)
        buffer.writeKafkaInteger(permission)
    }

    /// Smallest encoding: 1 + 2 (+1) + 2 + 2 + 1 + 1 bytes, with null or empty strings.
    static func minimumSize(version: Int16) -> Int { version >= 1 ? 10 : 9 }
}

public struct AclWireError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// CreateAcls (key 30), versions 0-1 (non-flexible).
public struct CreateAclsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .createAcls }
    public var creations: [AclWireBinding]

    public init(creations: [AclWireBinding]) { self.creations = creations }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        return CreateAclsRequest(creations: try buffer.readKafkaArray("creations", minimumElementSize: AclWireBinding.minimumSize(version: version)) {
            (b: inout ByteBuffer) throws(KafkaCodecError) -> AclWireBinding in try AclWireBinding.decode(from: &b, version: version, nullable: false)
        })
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaArray(creations) { $1.encode(into: &$0, version: version) }
    }
}

public struct CreateAclsResponse: KafkaResponseBody, Hashable {
    public struct Result: Sendable, Hashable {
        public var errorCode: Int16
        public var errorMessage: String?
        public init(errorCode: Int16, errorMessage: String? = nil) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }
    }

    public var throttleTimeMs: Int32
    public var results: [Result]

    public init(throttleTimeMs: Int32 = 0, results: [Result]) {
        self.throttleTimeMs = throttleTimeMs
        self.results = results
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .createAcls)
        let throttle: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        return CreateAclsResponse(throttleTimeMs: throttle, results: try buffer.readKafkaArray("results", minimumElementSize: 4) {
            (b: inout ByteBuffer) throws(KafkaCodecError) -> Result in
            Result(errorCode: try b.readKafkaInteger("results.error_code"), errorMessage: try b.readKafkaNullableString("results.error_message"))
        })
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(throttleTimeMs)
        buffer.writeKafkaArray(results) { b, result in
            b.writeKafkaInteger(result.errorCode)
            b.writeKafkaNullableString(result.errorMessage)
        }
    }
}

/// DescribeAcls (key 29), versions 0-1 (non-flexible).
public struct DescribeAclsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .describeAcls }
    public var filter: AclWireBinding

    public init(filter: AclWireBinding) { self.filter = filter }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        return DescribeAclsRequest(filter: try AclWireBinding.decode(from: &buffer, version: version, nullable: true))
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) { filter.encode(into: &buffer, version: version) }
}

public struct DescribeAclsResponse: KafkaResponseBody, Hashable {
    public struct AclDescription: Sendable, Hashable {
        public var principal: String
        public var host: String
        public var operation: Int8
        public var permission: Int8
        public init(principal: String, host: String, operation: Int8, permission: Int8) {
            self.principal = principal
            self.host = host
            self.operation = operation
            self.permission = permission
        }
    }

    public struct Resource: Sendable, Hashable {
        public var resourceType: Int8
        public var resourceName: String
        public var patternType: Int8
        public var acls: [AclDescription]
        public init(resourceType: Int8, resourceName: String, patternType: Int8, acls: [AclDescription]) {
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.patternType = patternType
            self.acls = acls
        }
    }

    public var throttleTimeMs: Int32
    public var errorCode: Int16
    public var errorMessage: String?
    public var resources: [Resource]

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16 = 0, errorMessage: String? = nil, resources: [Resource]) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.resources = resources
    }

    /// Bindings grouped by resource, as Kafka answers them.
    public init(bindings: [AclBinding]) {
        var order: [AclBinding] = []
        var grouped: [String: [AclBinding]] = [:]
        for binding in bindings {
            let key = "\(binding.resourceType.rawValue)|\(binding.patternType.rawValue)|\(binding.resourceName)"
            if grouped[key] == nil { order.append(binding) }
            grouped[key, default: []].append(binding)
        }
        self.init(resources: order.map { first in
            let key = "\(first.resourceType.rawValue)|\(first.patternType.rawValue)|\(first.resourceName)"
            return Resource(resourceType: first.resourceType.rawValue, resourceName: first.resourceName, patternType: first.patternType.rawValue,
                            acls: (grouped[key] ?? []).map {
                                AclDescription(principal: $0.principal, host: $0.host, operation: $0.operation.rawValue, permission: $0.permission.rawValue)
                            })
        })
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .describeAcls)
        let throttle: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        let errorCode: Int16 = try buffer.readKafkaInteger("error_code")
        let errorMessage = try buffer.readKafkaNullableString("error_message")
        let resources = try buffer.readKafkaArray("resources", minimumElementSize: version >= 1 ? 8 : 7) {
            (b: inout ByteBuffer) throws(KafkaCodecError) -> Resource in
            let type: Int8 = try b.readKafkaInteger("resources.resource_type")
            let name = try b.readKafkaString("resources.resource_name")
            let pattern: Int8 = try version >= 1 ? b.readKafkaInteger("resources.pattern_type") : AclPatternType.literal.rawValue
            let acls = try b.readKafkaArray("resources.acls", minimumElementSize: 6) { (a: inout ByteBuffer) throws(KafkaCodecError) -> AclDescription in
                AclDescription(principal: try a.readKafkaString("acls.principal"), host: try a.readKafkaString("acls.host"),
                               operation: try a.readKafkaInteger("acls.operation"), permission: try a.readKafkaInteger("acls.permission_type"))
            }
            return Resource(resourceType: type, resourceName: name, patternType: pattern, acls: acls)
        }
        return DescribeAclsResponse(throttleTimeMs: throttle, errorCode: errorCode, errorMessage: errorMessage, resources: resources)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(throttleTimeMs)
        buffer.writeKafkaInteger(errorCode)
        buffer.writeKafkaNullableString(errorMessage)
        buffer.writeKafkaArray(resources) { b, resource in
            b.writeKafkaInteger(resource.resourceType)
            b.writeKafkaString(resource.resourceName)
            if version >= 1 { b.writeKafkaInteger(resource.patternType) }
            b.writeKafkaArray(resource.acls) { a, acl in
                a.writeKafkaString(acl.principal)
                a.writeKafkaString(acl.host)
                a.writeKafkaInteger(acl.operation)
                a.writeKafkaInteger(acl.permission)
            }
        }
    }
}

/// DeleteAcls (key 31), versions 0-1 (non-flexible).
public struct DeleteAclsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .deleteAcls }
    public var filters: [AclWireBinding]

    public init(filters: [AclWireBinding]) { self.filters = filters }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        return DeleteAclsRequest(filters: try buffer.readKafkaArray("filters", minimumElementSize: AclWireBinding.minimumSize(version: version)) {
            (b: inout ByteBuffer) throws(KafkaCodecError) -> AclWireBinding in try AclWireBinding.decode(from: &b, version: version, nullable: true)
        })
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaArray(filters) { $1.encode(into: &$0, version: version) }
    }
}

public struct DeleteAclsResponse: KafkaResponseBody, Hashable {
    public struct MatchingAcl: Sendable, Hashable {
        public var errorCode: Int16
        public var errorMessage: String?
        public var binding: AclWireBinding
        public init(errorCode: Int16 = 0, errorMessage: String? = nil, binding: AclWireBinding) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.binding = binding
        }
    }

    public struct FilterResult: Sendable, Hashable {
        public var errorCode: Int16
        public var errorMessage: String?
        public var matchingAcls: [MatchingAcl]
        public init(errorCode: Int16 = 0, errorMessage: String? = nil, matchingAcls: [MatchingAcl]) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.matchingAcls = matchingAcls
        }
    }

    public var throttleTimeMs: Int32
    public var filterResults: [FilterResult]

    public init(throttleTimeMs: Int32 = 0, filterResults: [FilterResult]) {
        self.throttleTimeMs = throttleTimeMs
        self.filterResults = filterResults
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .deleteAcls)
        let throttle: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        let results = try buffer.readKafkaArray("filter_results", minimumElementSize: 8) { (b: inout ByteBuffer) throws(KafkaCodecError) -> FilterResult in
            let errorCode: Int16 = try b.readKafkaInteger("filter_results.error_code")
            let errorMessage = try b.readKafkaNullableString("filter_results.error_message")
            let matching = try b.readKafkaArray("matching_acls", minimumElementSize: 4 + AclWireBinding.minimumSize(version: version)) {
                (m: inout ByteBuffer) throws(KafkaCodecError) -> MatchingAcl in
                let code: Int16 = try m.readKafkaInteger("matching_acls.error_code")
                let message = try m.readKafkaNullableString("matching_acls.error_message")
                return MatchingAcl(errorCode: code, errorMessage: message, binding: try AclWireBinding.decode(from: &m, version: version, nullable: false))
            }
            return FilterResult(errorCode: errorCode, errorMessage: errorMessage, matchingAcls: matching)
        }
        return DeleteAclsResponse(throttleTimeMs: throttle, filterResults: results)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInteger(throttleTimeMs)
        buffer.writeKafkaArray(filterResults) { b, result in
            b.writeKafkaInteger(result.errorCode)
            b.writeKafkaNullableString(result.errorMessage)
            b.writeKafkaArray(result.matchingAcls) { m, acl in
                m.writeKafkaInteger(acl.errorCode)
                m.writeKafkaNullableString(acl.errorMessage)
                acl.binding.encode(into: &m, version: version)
            }
        }
    }
}
