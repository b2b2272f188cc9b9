import Protocol
import Testing

@Suite struct AuthorizerTests {
    private let executor = KafkaPrincipal(name: "executor")
    private let mallory = KafkaPrincipal(name: "mallory")

    private func allow(_ operation: AclOperation, _ type: AclResourceType, _ name: String, for principal: String,
                       pattern: AclPatternType = .literal, host: String = "*") -> AclBinding {
        AclBinding(resourceType: type, resourceName: name, patternType: pattern, principal: principal, host: host,
                   operation: operation, permission: .allow)
    }

    @Test func aResourceWithBindingsIsClosedToEveryoneTheyDoNotName() {
        let authorizer = Authorizer(bindings: [allow(.write, .topic, "psp-result-updates", for: "User:executor")],
                                    allowEveryoneIfNoAclFound: true)
        #expect(authorizer.authorize(executor, host: "10.0.0.1", .write, .topic("psp-result-updates")))
        #expect(!authorizer.authorize(mallory, host: "10.0.0.1", .write, .topic("psp-result-updates")))
        #expect(!authorizer.authorize(.anonymous, host: "10.0.0.1", .read, .topic("psp-result-updates")))
        // Topics no binding covers stay open only with allow.everyone.if.no.acl.found.
        #expect(authorizer.authorize(mallory, host: "10.0.0.1", .write, .topic("scratch")))
        let closed = Authorizer(bindings: authorizer.bindings, allowEveryoneIfNoAclFound: false)
        #expect(!closed.authorize(mallory, host: "10.0.0.1", .write, .topic("scratch")))
    }

    @Test func writeImpliesDescribeButNotRead() {
        let authorizer = Authorizer(bindings: [allow(.write, .topic, "t", for: "User:executor")], allowEveryoneIfNoAclFound: false)
        #expect(authorizer.authorize(executor, host: "h", .describe, .topic("t")))
        #expect(!authorizer.authorize(executor, host: "h", .read, .topic("t")))
        #expect(!authorizer.authorize(executor, host: "h", .delete, .topic("t")))
    }

    @Test func denyWinsOverAllowAndAllCoversEveryOperation() {
        let authorizer = Authorizer(bindings: [
            allow(.all, .group, "payment-service", for: "User:*"),
            AclBinding(resourceType: .group, resourceName: "payment-service", principal: "User:mallory",
                       operation: .read, permission: .deny),
        ], allowEveryoneIfNoAclFound: false)
        #expect(authorizer.authorize(executor, host: "h", .read, .group("payment-service")))
        #expect(authorizer.authorize(executor, host: "h", .delete, .group("payment-service")))
        #expect(!authorizer.authorize(mallory, host: "h", .read, .group("payment-service")))
        #expect(authorizer.authorize(mallory, host: "h", .describe, .group("payment-service")))
    }

    @Test func superUsersBypassEvenADeny() {
        let authorizer = Authorizer(bindings: [AclBinding(resourceType: .group, resourceName: "payment-service",
                                                          principal: "User:*", operation: .all, permission: .deny)],
                                    superUsers: [KafkaPrincipal(name: "admin")], allowEveryoneIfNoAclFound: true)
        #expect(authorizer.authorize(KafkaPrincipal(name: "admin"), host: "h", .read, .group("payment-service")))
        #expect(!authorizer.authorize(executor, host: "h", .read, .group("payment-service")))
    }

    @Test func prefixedAndWildcardPatternsAndHosts() {
        let authorizer = Authorizer(bindings: [
            allow(.read, .topic, "payment-", for: "User:reader", pattern: .prefixed),
            allow(.write, .topic, "*", for: "User:loader", host: "10.0.0.9"),
        ], allowEveryoneIfNoAclFound: false)
        let reader = KafkaPrincipal(name: "reader")
        #expect(authorizer.authorize(reader, host: "h", .read, .topic("payment-events")))
        #expect(!authorizer.authorize(reader, host: "h", .read, .topic("psp-result-updates")))
        let loader = KafkaPrincipal(name: "loader")
        #expect(authorizer.authorize(loader, host: "10.0.0.9", .write, .topic("anything")))
        #expect(!authorizer.authorize(loader, host: "10.0.0.8", .write, .topic("anything")))
        #expect(authorizer.mayWriteSomeTopic(loader, host: "10.0.0.9"))
        #expect(!authorizer.mayWriteSomeTopic(reader, host: "h"))
    }

    @Test func filtersMatchAsKafkaDescribesThem() {
        let bindings = [
            allow(.read, .topic, "payment-", for: "User:reader", pattern: .prefixed),
            allow(.write, .topic, "psp-result-updates", for: "User:executor"),
        ]
        let match = AclBindingFilter(resourceType: .topic, resourceName: "payment-events", patternType: .match)
        #expect(bindings.filter(match.matches) == [bindings[0]])
        let byPrincipal = AclBindingFilter(principal: "User:executor")
        #expect(bindings.filter(byPrincipal.matches) == [bindings[1]])
        #expect(bindings.filter(AclBindingFilter().matches) == bindings)
    }

    @Test func filterOnlyValuesAndBadPrincipalsCannotBeStored() {
        #expect(AclBinding(resourceType: .any, resourceName: "t", principal: "User:a", operation: .read, permission: .allow).validationError != nil)
        #expect(AclBinding(resourceType: .topic, resourceName: "t", principal: "nobody", operation: .read, permission: .allow).validationError != nil)
        #expect(AclBinding(resourceType: .topic, resourceName: "t", principal: "User:a", operation: .any, permission: .allow).validationError != nil)
        #expect(AclBinding(resourceType: .topic, resourceName: "t", principal: "User:a", operation: .read, permission: .allow).validationError == nil)
        #expect(AclOperation(parsing: "IDEMPOTENT_WRITE") == .idempotentWrite)
        #expect(KafkaPrincipal(parsing: "User:executor") == KafkaPrincipal(name: "executor"))
        #expect(KafkaPrincipal(parsing: "User:") == nil)
    }
}
