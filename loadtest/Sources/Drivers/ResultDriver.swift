import Foundation
import KafkaClient
import Payments
import Protocol

/// Produces PSP results straight into `psp-result-updates` for orders that already exist, as
/// the executor would (same key, value and schema headers), to measure the service's consumer
/// pipeline alone: result produced -> consumed -> state, history, payment event and offset
/// committed. Each order gets the results its token dictates (PENDING then SUCCESSFUL for
/// tok_pending), so the checker judges this mode like the full flow.
struct ResultDriver: Sendable {
    let producer: KafkaProducer
    let ledger: RunLedger
    /// Results in flight at once; the idempotent producer batches them per partition.
    let concurrency: Int

    func run(orders: [OrderEntry], schedule: LoadSchedule) async {
        let dispenser = IndexDispenser()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = dispenser.take()
                        let now = ledger.clock.now()
                        guard index < orders.count, schedule.includes(index, now: now) else { return }
                        let intended = schedule.intendedStart(of: index, now: now)
                        await sleep(until: intended, clock: ledger.clock)
                        ledger.setIntendedAt(orders[index].paymentOrderId, intended)
                        await sendResults(for: orders[index])
                    }
                }
            }
        }
    }

    private func sendResults(for order: OrderEntry) async {
        ledger.sent.add(1, ordering: .relaxed)
        let expectation = TokenExpectation.forToken(order.token)
        for status in expectation.resultStatuses {
            var event = Paynode_Events_V1_PspResultUpdateEvent()
            event.paymentOrderID = order.paymentOrderId
            event.psp = order.index % 2 == 0 ? "stripe" : "adyen"
            event.pspStatus = switch status {
            case "SUCCESSFUL": .successful
            case "PENDING": .pending
            default: .failed
            }
            event.pspReference = "pi_load_\(order.index)"
            if status == "FAILED", let code = expectation.errorCode {
                event.errorCode = code
                event.errorMessage = "loadtest: \(code)"
            }
            event.eventTimeUnixMs = EventTime.nowUnixMilliseconds()
            do {
                let encoded = try EventEnvelope.encode(event)
                _ = try await producer.send(topic: PaymentTopics.pspResultUpdates, key: Array(order.paymentOrderId.utf8),
                                            value: encoded.value, headers: encoded.headers)
                ledger.resultsProduced.add(1, ordering: .relaxed)
            } catch {
                ledger.failures.add(1, ordering: .relaxed)
                FileHandle.standardError.write(Data("producing a result for \(order.paymentOrderId) failed: \(error)\n".utf8))
                return
            }
        }
    }
}
