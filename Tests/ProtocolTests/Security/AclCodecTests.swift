import NIOCore
import Protocol
import Testing

/// CreateAcls, DescribeAcls and DeleteAcls v0-1 against kafka-python's encoding
/// (golden/make_acl_golden.py), and hostile bytes.
@Suite struct AclCodecTests {
    private static let creation = AclWireBinding(resourceType: 2, resourceName: "psp-result-updates", patternType: 3,
                                                 principal: "User:executor", host: "*", operation: 4, permission: 3)
    private static let prefixed = AclWireBinding(resourceType: 3, resourceName: "payment-", patternType: 4,
                                                 principal: "User:*", host: "10.0.0.1", operation: 3, permission: 2)

    private func encoded(_ body: some KafkaRequestBody, _ version: Int16) -> [UInt8] {
        var buffer = ByteBuffer()
        body.encode(into: &buffer, version: version)
        return Array(buffer.readableBytesView)
    }

    private func encoded(_ body: some KafkaResponseBody, _ version: Int16) -> [UInt8] {
        var buffer = ByteBuffer()
        body.encode(into: &buffer, version: version)
        return Array(buffer.readableBytesView)
    }

    private func golden(_ name: String, _ version: Int16) throws -> ByteBuffer {
        buffer(hex: try #require(AclGolden.bodies["\(name).v\(version)"]))
    }

    @Test(arguments: [Int16(0), 1]) func createAclsMatchesKafkaPython(version: Int16) throws {
        let request = CreateAclsRequest(creations: version >= 1 ? [Self.creation, Self.prefixed] : [Self.creation])
        var bytes = try golden("CreateAclsRequest", version)
        #expect(encoded(request, version) == Array(bytes.readableBytesView))
        #expect(try CreateAclsRequest.decode(from: &bytes, version: version) == request)
        #expect(bytes.readableBytes == 0)
        let response = CreateAclsResponse(results: [.init(errorCode: 0), .init(errorCode: 42, errorMessage: "unknown operation 99")])
        var responseBytes = try golden("CreateAclsResponse", version)
        #expect(encoded(response, version) == Array(responseBytes.readableBytesView))
        #expect(try CreateAclsResponse.decode(from: &responseBytes, version: version) == response)
    }

    @Test(arguments: [Int16(0), 1]) func describeAclsMatchesKafkaPython(version: Int16) throws {
        let request = DescribeAclsRequest(filter: AclWireBinding(resourceType: 2, resourceName: nil, patternType: version >= 1 ? 2 : 3,
                                                                 principal: "User:executor", host: nil, operation: 1, permission: 1))
        var bytes = try golden("DescribeAclsRequest", version)
        #expect(encoded(request, version) == Array(bytes.readableBytesView))
        #expect(try DescribeAclsRequest.decode(from: &bytes, version: version) == request)
        let response = DescribeAclsResponse(bindings: [
            AclBinding(resourceType: .topic, resourceName: "psp-result-updates", principal: "User:executor", operation: .write, permission: .allow),
        ])
        var responseBytes = try golden("DescribeAclsResponse", version)
        #expect(encoded(response, version) == Array(responseBytes.readableBytesView))
        #expect(try DescribeAclsResponse.decode(from: &responseBytes, version: version) == response)
    }

    @Test(arguments: [Int16(0), 1]) func deleteAclsMatchesKafkaPython(version: Int16) throws {
        let filter = AclWireBinding(resourceType: 3, resourceName: "payment-service", patternType: 3, principal: nil, host: "*",
                                    operation: 2, permission: 2)
        let request = DeleteAclsRequest(filters: [filter])
        var bytes = try golden("DeleteAclsRequest", version)
        #expect(encoded(request, version) == Array(bytes.readableBytesView))
        #expect(try DeleteAclsRequest.decode(from: &bytes, version: version) == request)
        let matched = AclWireBinding(resourceType: 3, resourceName: "payment-service", patternType: 3, principal: "User:*", host: "*",
                                     operation: 2, permission: 2)
        let response = DeleteAclsResponse(throttleTimeMs: 5, filterResults: [.init(matchingAcls: [.init(binding: matched)])])
        var responseBytes = try golden("DeleteAclsResponse", version)
        #expect(encoded(response, version) == Array(responseBytes.readableBytesView))
        #expect(try DeleteAclsResponse.decode(from: &responseBytes, version: version) == response)
    }

    @Test func wireCodesBecomeBindingsOnlyWhenTheyNameOne() throws {
        #expect(try Self.creation.binding.get() == AclBinding(resourceType: .topic, resourceName: "psp-result-updates",
                                                               principal: "User:executor", operation: .write, permission: .allow))
        var unknown = Self.creation
        unknown.operation = 99
        #expect(throws: AclWireError.self) { try unknown.binding.get() }
        var filterOnly = Self.creation
        filterOnly.patternType = AclPatternType.match.rawValue
        #expect(throws: AclWireError.self) { try filterOnly.binding.get() }
        var nullName = Self.creation
        nullName.resourceName = nil
        #expect(throws: AclWireError.self) { try nullName.binding.get() }
    }

    @Test func bindingsAndFiltersNameTheUnknownCode() throws {
        let unknowns: [(String, (inout AclWireBinding) -> Void)] = [
            ("unknown resource type 0", { $0.resourceType = 0 }),
            ("unknown pattern type 9", { $0.patternType = 9 }),
            ("unknown operation -1", { $0.operation = -1 }),
            ("unknown permission type 4", { $0.permission = 4 }),
        ]
        for (message, spoil) in unknowns {
            var wire = Self.creation
            spoil(&wire)
            #expect(wire.binding.failureMessage == message)
            #expect(wire.filter.failureMessage == message)
        }
        // The filter-only values a binding refuses make a filter.
        var any = Self.creation
        (any.resourceType, any.patternType, any.operation, any.permission) = (1, 2, 1, 1)
        let filter = try any.filter.get()
        #expect(filter.resourceType == .any && filter.patternType == .match && filter.operation == .any && filter.permission == .any)
        #expect(filter.resourceName == "psp-result-updates" && filter.principal == "User:executor")
    }

    @Test func everyPrefixAndForgedCountsThrowWithoutTrapping() throws {
        let whole = Array(try golden("CreateAclsRequest", 1).readableBytesView)
        for length in 0..<whole.count {
            var prefix = buffer(Array(whole[..<length]))
            #expect(throws: KafkaCodecError.self) { _ = try CreateAclsRequest.decode(from: &prefix, version: 1) }
        }
        // A count of two billion creations in a 4-byte body is refused before any allocation.
        var forged = buffer([0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: KafkaCodecError.self) { _ = try DeleteAclsRequest.decode(from: &forged, version: 1) }
        var unsupported = buffer(whole)
        #expect(throws: KafkaCodecError.self) { _ = try CreateAclsRequest.decode(from: &unsupported, version: 2) }
    }
}

extension Result where Failure == AclWireError {
    fileprivate var failureMessage: String? {
        if case .failure(let error) = self { return error.message }
        return nil
    }
}
