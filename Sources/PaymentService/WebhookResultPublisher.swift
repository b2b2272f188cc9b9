import LogStore
import PaymentEvents
import Payments
import Protocol

/// Publishes the results verified PSP webhooks report into `psp-result-updates`, the path the
/// executor's results take: the consumer then applies, deduplicates or dead-letters them like
/// any other result, in one transaction with its offset. Each PSP's webhooks write as the
/// node's own idempotent producer owned by `Webhook:<psp>` (ProducerOwners), so the audit
/// trail names where a result came from and the consumer's provenance check accepts them only
/// from these principals and the executor's. A publish returns once its records are durable:
/// only then may the webhook be acknowledged.
public struct WebhookResultPublisher: Sendable {
    public static let psps = ["stripe", "adyen"]

    public static func principal(psp: String) -> String { "Webhook:\(psp)" }

    /// The principals whose results the consumer accepts besides the executor's.
    public static var principals: [String] { psps.map(principal(psp:)) }

    private let store: LogStore
    private let producers: [String: ProducerIdentity]

    /// Allocates one producer id per PSP for this process (as a Kafka producer does at start)
    /// and records its owner, in one transaction.
    public static func prepare(store: LogStore) async throws -> WebhookResultPublisher {
        let producers = try await store.write { transaction -> [String: ProducerIdentity] in
            var producers: [String: ProducerIdentity] = [:]
            for psp in psps {
                let identity = try transaction.allocateProducerId()
                try ProducerOwners.record(identity.producerId, owner: principal(psp: psp), in: transaction)
                producers[psp] = identity
            }
            return producers
        }
        return WebhookResultPublisher(store: store, producers: producers)
    }

    private init(store: LogStore, producers: [String: ProducerIdentity]) {
        self.store = store
        self.producers = producers
    }

    /// Appends every result, each to its order's partition (murmur2 of the order id, as the
    /// executor routes), in one write transaction: all are durable or none is.
    public func publish(_ results: [ReportedPspResult]) async throws {
        guard !results.isEmpty else { return }
        var records: [(psp: String, key: [UInt8], record: Record)] = []
        for result in results {
            guard producers[result.psp] != nil else {
                throw LogStoreError(.invalidArgument, "no webhook producer for PSP \(result.psp)")
            }
            let encoded = try Self.encoded(result)
            let key = Array(result.paymentOrderId.utf8)
            records.append((result.psp, key, Record(timestamp: result.eventTimeMilliseconds, key: key, value: encoded.value,
                                                    headers: encoded.headers)))
        }
        let producers = self.producers
        let topic = PaymentTopics.pspResultUpdates
        let prepared = records
        try await store.write(estimatedBytes: prepared.reduce(0) { $0 + ($1.record.value?.count ?? 0) + 256 }) { transaction in
            let partitions = try transaction.existingPartitionCount(of: topic)
            for entry in prepared {
                guard let producer = producers[entry.psp] else { continue }
                let partition = KafkaPartitioner.partition(forKey: entry.key, partitionCount: partitions)
                try transaction.append(topic: topic, partition: partition, records: [entry.record], producer: producer)
            }
        }
    }

    /// A payment's result as a `PspResultUpdateEvent`, a refund's as a `PspRefundResultEvent`.
    static func encoded(_ result: ReportedPspResult) throws -> EventEnvelope.Encoded {
        guard let refundId = result.refundId else { return try EventEnvelope.encode(event(result)) }
        var event = Paynode_Events_V1_PspRefundResultEvent()
        event.refundID = refundId
        event.paymentOrderID = result.paymentOrderId
        event.pspStatus = Self.status(result.status)
        if let reference = result.pspReference { event.pspReference = reference }
        event.eventTimeUnixMs = result.eventTimeMilliseconds
        if let code = result.errorCode { event.errorCode = code }
        if let message = result.errorMessage { event.errorMessage = message }
        event.psp = result.psp
        event.pspEventID = result.pspEventId
        return try EventEnvelope.encode(event)
    }

    static func status(_ status: PspStatus) -> Paynode_Events_V1_PspStatus {
        switch status {
        case .successful: .successful
        case .failed: .failed
        case .pending: .pending
        }
    }

    static func event(_ result: ReportedPspResult) -> Paynode_Events_V1_PspResultUpdateEvent {
        let status = Self.status(result.status)
        return Paynode_Events_V1_PspResultUpdateEvent(
            paymentOrderId: result.paymentOrderId, status: status, pspReference: result.pspReference,
            eventTimeMilliseconds: result.eventTimeMilliseconds, errorCode: result.errorCode, errorMessage: result.errorMessage,
            psp: result.psp, pspEventId: result.pspEventId)
    }
}
