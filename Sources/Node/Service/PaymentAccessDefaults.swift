import ArgumentParser
import Foundation
import Payments
import Protocol

/// The ACLs a service needs to keep its payment pipeline safe with no configuration. They are
/// built in (computed from the flags at every start, listed as built-in, never deleted by
/// accident): only the executor principal writes `psp-result-updates` and reads
/// `payment-orders` (and writes `payment-orders.dlq`, the orders it cannot decode); the service
/// writes `payment-orders`, `payment-events` and `psp-result-updates.dlq` itself (through its
/// embedded log, not over Kafka), so no Kafka client may; downstream
/// readers may read `payment-events` and both dead-letter topics; nobody joins or commits to the
/// service's own group `payment-service` (its consumer runs inside the service), though anyone
/// may describe it (lag).
enum PaymentAccessDefaults {
    static func bindings(executor: KafkaPrincipal, eventReaders: [KafkaPrincipal]) -> [AclBinding] {
        func allow(_ operation: AclOperation, _ topic: String, for principal: KafkaPrincipal) -> AclBinding {
            AclBinding(resourceType: .topic, resourceName: topic, principal: principal.description, operation: operation, permission: .allow)
        }
        var bindings = [
            allow(.write, PaymentTopics.pspResultUpdates, for: executor),
            allow(.read, PaymentTopics.paymentOrders, for: executor),
            // The executor dead-letters the orders it cannot decode (ExecutorPoison) to its own topic.
            allow(.write, PaymentTopics.orderDeadLetters, for: executor),
            // Joining, syncing, heartbeats and commits need READ; describing (lag tools) stays open.
            AclBinding(resourceType: .group, resourceName: PaymentTopics.consumerGroup, principal: "User:*",
                       operation: .read, permission: .deny),
            AclBinding(resourceType: .group, resourceName: PaymentTopics.consumerGroup, principal: "User:*",
                       operation: .describe, permission: .allow),
        ]
        for reader in eventReaders {
            bindings.append(allow(.read, PaymentTopics.paymentEvents, for: reader))
            bindings.append(allow(.read, PaymentTopics.deadLetters, for: reader))
            bindings.append(allow(.read, PaymentTopics.orderDeadLetters, for: reader))
        }
        return bindings
    }
}

extension KafkaPrincipal {
    /// "User:a,User:b" as given on a command line; empty entries are skipped.
    static func parseList(_ text: String, flag: String) throws -> [KafkaPrincipal] {
        try text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { entry in
            guard let principal = KafkaPrincipal(parsing: entry) else {
                throw ValidationError("\(flag): \"\(entry)\" is not a principal (Type:name, e.g. User:executor)")
            }
            return principal
        }
    }
}
