import ArgumentParser

@main
struct PaynodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paynode",
        abstract: "A self-contained payment node: a Kafka-shaped log over LMDB and the payment pipeline on top of it.",
        subcommands: [BrokerCommand.self, ServiceCommand.self, ExecutorCommand.self, DevCommand.self, CertsCommand.self, DemoCommand.self, StoreCommand.self, AclsCommand.self, UsersCommand.self, AuditCommand.self, LedgerCommand.self, ReconcileCommand.self, APIKeysCommand.self, TopicsCommand.self, GroupsCommand.self, ConsumeCommand.self]
    )
}
