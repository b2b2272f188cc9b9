import LogStore
import Protocol

/// DescribeAcls, CreateAcls and DeleteAcls over the stored bindings (`broker.acls`), so
/// kafka-acls-style tools and AdminClients manage them. Managing ACLs needs ALTER (listing:
/// DESCRIBE) on the cluster granted by a binding or super-user status: unlike other resources,
/// allow.everyone.if.no.acl.found does not open it, or anyone could grant themselves anything.
extension KafkaBroker {
    private func mayManageAcls(_ session: KafkaSession, _ operation: AclOperation) -> Bool {
        var strict = access.authorizer
        strict.allowEveryoneIfNoAclFound = false
        let allowed = strict.authorize(session.principal, host: session.address, operation, .cluster)
        if !allowed {
            rejections.warning(key: "denied-acl-management", "ACL request denied",
                               metadata: ["principal": "\(session.principal)", "client": "\(session.clientHost)", "operation": "\(operation)"])
        }
        return allowed
    }

    func describeAcls(_ request: DescribeAclsRequest, session: KafkaSession) -> DescribeAclsResponse {
        guard mayManageAcls(session, .describe) else {
            countRequest(.describeAcls, error: .clusterAuthorizationFailed)
            return DescribeAclsResponse(errorCode: KafkaErrorCode.clusterAuthorizationFailed.rawValue,
                                        errorMessage: "\(session.principal) may not describe ACLs", resources: [])
        }
        switch request.filter.filter {
        case .failure(let error):
            countRequest(.describeAcls, error: .invalidRequest)
            return DescribeAclsResponse(errorCode: KafkaErrorCode.invalidRequest.rawValue, errorMessage: error.message, resources: [])
        case .success(let filter):
            countRequest(.describeAcls, error: .none)
            let all = access.configuration.builtInBindings + access.storedBindings
            return DescribeAclsResponse(bindings: all.filter(filter.matches))
        }
    }

    func createAcls(_ request: CreateAclsRequest, session: KafkaSession) async -> CreateAclsResponse {
        guard mayManageAcls(session, .alter) else {
            countRequest(.createAcls, error: .clusterAuthorizationFailed)
            return CreateAclsResponse(results: request.creations.map { _ in
                .init(errorCode: KafkaErrorCode.clusterAuthorizationFailed.rawValue, errorMessage: "\(session.principal) may not create ACLs")
            })
        }
        var results: [CreateAclsResponse.Result] = []
        var valid: [AclBinding] = []
        for creation in request.creations {
            switch creation.binding {
            case .failure(let error): results.append(.init(errorCode: KafkaErrorCode.invalidRequest.rawValue, errorMessage: error.message))
            case .success(let binding):
                valid.append(binding)
                results.append(.init(errorCode: 0))
            }
        }
        let creations = valid
        do {
            _ = try await store.write { try StoredAcl.add(creations, in: $0) }
        } catch {
            let code = (error as? LogStoreError)?.code == .invalidArgument ? KafkaErrorCode.invalidRequest : kafkaErrorCode(for: error)
            countRequest(.createAcls, error: code)
            return CreateAclsResponse(results: results.map { $0.errorCode == 0 ? .init(errorCode: code.rawValue, errorMessage: "\(error)") : $0 })
        }
        access.invalidate()
        countRequest(.createAcls, error: results.contains { $0.errorCode != 0 } ? .invalidRequest : .none)
        return CreateAclsResponse(results: results)
    }

    func deleteAcls(_ request: DeleteAclsRequest, session: KafkaSession) async -> DeleteAclsResponse {
        guard mayManageAcls(session, .alter) else {
            countRequest(.deleteAcls, error: .clusterAuthorizationFailed)
            return DeleteAclsResponse(filterResults: request.filters.map { _ in
                .init(errorCode: KafkaErrorCode.clusterAuthorizationFailed.rawValue, errorMessage: "\(session.principal) may not delete ACLs",
                      matchingAcls: [])
            })
        }
        let filters = request.filters.map(\.filter)
        do {
            let results = try await store.write { transaction -> [DeleteAclsResponse.FilterResult] in
                let table = try transaction.table(StoredAcl.table)
                let stored = try table.scan().compactMap { StoredAcl.binding($0.key) }
                var deleted = Set<AclBinding>()
                return try filters.map { filter in
                    switch filter {
                    case .failure(let error):
                        return .init(errorCode: KafkaErrorCode.invalidRequest.rawValue, errorMessage: error.message, matchingAcls: [])
                    case .success(let filter):
                        let matching = stored.filter { filter.matches($0) && !deleted.contains($0) }
                        for binding in matching {
                            _ = try table.delete(StoredAcl.key(binding))
                            deleted.insert(binding)
                        }
                        return .init(matchingAcls: matching.map { .init(binding: AclWireBinding($0)) })
                    }
                }
            }
            access.invalidate()
            countRequest(.deleteAcls, error: .none)
            return DeleteAclsResponse(filterResults: results)
        } catch {
            let code = kafkaErrorCode(for: error)
            countRequest(.deleteAcls, error: code)
            return DeleteAclsResponse(filterResults: request.filters.map { _ in .init(errorCode: code.rawValue, errorMessage: "\(error)", matchingAcls: []) })
        }
    }
}
