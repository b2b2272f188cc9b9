import ArgumentParser
import KafkaBroker
import LogStore
import Logging
import Protocol

/// `paynode acls`: the stored ACL bindings of a data directory, managed offline (the node must
/// be stopped, as for `paynode store`). A running node is managed over Kafka instead
/// (CreateAcls / DescribeAcls / DeleteAcls, e.g. an AdminClient's create_acls).
struct AclsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acls",
        abstract: "Add, remove and list the stored ACLs of a data directory (offline).",
        subcommands: [Add.self, Remove.self, List.self]
    )

    /// One binding as kafka-acls names it.
    struct BindingOptions: ParsableArguments {
        @Option(help: "The principal, Type:name (User:executor; User:* for every principal).") var principal: String
        @Option(help: "Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All.")
        var operation: String
        @Option(help: "A topic name (* for every topic).") var topic: String?
        @Option(help: "A consumer group id (* for every group).") var group: String?
        @Flag(help: "The cluster resource (ACL management, topic creation, IdempotentWrite).") var cluster = false
        @Flag(help: "The name is a prefix (Kafka's --resource-pattern-type prefixed).") var prefixed = false
        @Option(help: "The client address the binding applies to (default *: every host).") var host = "*"
        @Flag(help: "Deny instead of allow (a deny wins over every allow).") var deny = false

        func binding() throws -> AclBinding {
            let resources: [(AclResourceType, String)] = [(.topic, topic), (.group, group), (.cluster, cluster ? AclResource.cluster.name : nil)]
                .compactMap { type, name in name.map { (type, $0) } }
            guard resources.count == 1, let (type, name) = resources.first else {
                throw ValidationError("name exactly one resource: --topic NAME, --group NAME or --cluster")
            }
            guard let operation = AclOperation(parsing: operation), operation != .any else {
                throw ValidationError("--operation \(self.operation) is not an ACL operation")
            }
            let binding = AclBinding(resourceType: type, resourceName: name, patternType: prefixed ? .prefixed : .literal,
                                     principal: principal, host: host, operation: operation, permission: deny ? .deny : .allow)
            if let error = binding.validationError { throw ValidationError(error) }
            return binding
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store an ACL binding.")
        @OptionGroup var data: DataDirectoryOptions
        @OptionGroup var binding: BindingOptions

        func run() async throws {
            let binding = try binding.binding()
            let store = try data.openStore()
            defer { store.close() }
            let added = try await store.write { try !StoredAcl.add([binding], in: $0).isEmpty }
            print(added ? "added: \(binding)" : "already present: \(binding)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a stored ACL binding (named exactly as it was added).")
        @OptionGroup var data: DataDirectoryOptions
        @OptionGroup var binding: BindingOptions

        func run() async throws {
            let binding = try binding.binding()
            let store = try data.openStore()
            defer { store.close() }
            let removed = try await store.write { try $0.table(StoredAcl.table).delete(StoredAcl.key(binding)) }
            guard removed else { throw ValidationError("no such stored ACL: \(binding)") }
            print("removed: \(binding)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the stored ACL bindings (a service adds its built-in payment bindings at start; see docs/security.md).")
        @OptionGroup var data: DataDirectoryOptions
        @Option(help: "Only this principal's bindings.") var principal: String?
        @Option(help: "Only bindings that apply to this topic.") var topic: String?
        @Option(help: "Only bindings that apply to this group.") var group: String?

        func run() async throws {
            let store = try data.openStore()
            defer { store.close() }
            var filter = AclBindingFilter(principal: principal)
            if let topic { filter = AclBindingFilter(resourceType: .topic, resourceName: topic, patternType: .match, principal: principal) }
            if let group { filter = AclBindingFilter(resourceType: .group, resourceName: group, patternType: .match, principal: principal) }
            let bindings = BrokerAccessControl.readStoredBindings(store, logger: Logger(label: "paynode.acl")).filter(filter.matches)
            if bindings.isEmpty { print("no stored ACLs") }
            for binding in bindings { print(binding) }
        }
    }
}
