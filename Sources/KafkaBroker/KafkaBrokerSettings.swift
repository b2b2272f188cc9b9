import Logging
import LogStore
import Protocol

/// Everything a broker is built from, resolved: the listener, the API handlers, the consumer
/// groups and the ACLs. `paynode broker` and `paynode service` resolve it from their flags;
/// tests fill it in directly.
package struct KafkaBrokerSettings: Sendable {
    package var server: KafkaServer.Configuration
    package var broker: KafkaBroker.Configuration
    package var groups: ConsumerGroup.Configuration
    package var groupLimits: GroupCoordinator.Limits
    package var access: BrokerAccessControl.Configuration

    package init(server: KafkaServer.Configuration, broker: KafkaBroker.Configuration, groups: ConsumerGroup.Configuration,
                 groupLimits: GroupCoordinator.Limits = .init(), access: BrokerAccessControl.Configuration = .init()) {
        self.server = server
        self.broker = broker
        self.groups = groups
        self.groupLimits = groupLimits
        self.access = access
    }

    /// The group coordinator and the Kafka listener over `store`, both to be run as services.
    /// The listener advertises its bound port in Metadata and then tells `boundPort`.
    /// `protectedGroups` (the groups the node itself consumes as) never expire.
    /// `builtInAcls`: bindings the node's role needs, on top of the stored ones.
    package func makeServices(store: LogStore, protectedGroups: Set<String> = [], builtInAcls: [AclBinding] = [],
                              boundPort: @escaping @Sendable (Int) -> Void) throws -> (GroupCoordinator, KafkaServer) {
        var groupLimits = self.groupLimits
        groupLimits.protectedGroups.formUnion(protectedGroups)
        let coordinator = try GroupCoordinator(store: store, configuration: groups, limits: groupLimits,
                                               logger: Logger(label: "paynode.groups"))
        var access = self.access
        access.builtInBindings += builtInAcls
        let broker = KafkaBroker(store: store, coordinator: coordinator, configuration: self.broker,
                                 access: BrokerAccessControl(store: store, configuration: access, logger: Logger(label: "paynode.acl")))
        let listener = KafkaServer(configuration: self.server, broker: broker, logger: Logger(label: "paynode.kafka")) { port in
            broker.setAdvertisedPort(port)
            boundPort(port)
        }
        return (coordinator, listener)
    }
}
