import KafkaClient
import PaymentEvents
import Payments
import Protocol

/// Poison: records in psp-result-updates that claim the PspResultUpdateEvent schema but whose
/// value does not decode. The service must dead-letter each one and go on; the checker then
/// expects exactly that many records in the DLQ (`--expect-dead-letters`).
struct PoisonInjector: Sendable {
    let kafka: KafkaClient

    func inject(count: Int) async throws {
        let producer = try KafkaProducer(client: kafka)
        let headers = EventEnvelope.headers(for: Paynode_Events_V1_PspResultUpdateEvent.self)
        for index in 0..<count {
            // 0xFF is a field key with wire type 7, which no protobuf decoder accepts.
            _ = try await producer.send(topic: PaymentTopics.pspResultUpdates, key: Array("loadtest-poison-\(index)".utf8),
                                        value: [0xFF, 0xFF, 0xFF], headers: headers)
        }
        await producer.close()
    }
}
