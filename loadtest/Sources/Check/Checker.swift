import Foundation
import KafkaClient
import PaymentEvents
import Payments
import Protocol
import Synchronization

/// One broken promise, naming the order it concerns (or "-" for the whole pipeline).
struct Violation: Sendable, Codable, CustomStringConvertible {
    var kind: String
    var paymentOrderId: String
    var detail: String

    var description: String { "VIOLATION \(kind) order=\(paymentOrderId): \(detail)" }
}

/// What the checker found: violations fail the run; findings are counted and reported.
struct CheckReport: Sendable, Codable {
    var ordersChecked = 0
    var ordersListedByAPI = 0
    var auditTrail = "skipped (GET /v1/payment-orders/{id}/audit answers 404)"
    var pspResultRecords = 0
    /// Extra copies of the same (order, status) result in psp-result-updates: a re-send the
    /// broker did not deduplicate. A violation unless --no-strict-results.
    var duplicateResultRecords = 0
    var ordersWithDuplicateResults = 0
    var paymentEventRecords = 0
    var deadLetters = 0
    var groupLag: Int64 = 0
    var violationsByKind: [String: Int] = [:]
    var violations: [Violation] = []

    var passed: Bool { violations.isEmpty }

    mutating func add(_ violation: Violation) {
        violationsByKind[violation.kind, default: 0] += 1
        violations.append(violation)
    }
}

/// The order as `GET /v1/payment-orders/{id}` shows it (the fields the checker judges).
struct OrderView: Decodable, Sendable {
    struct Entry: Decodable, Sendable {
        var pspStatus: String
        var outcome: String
    }
    var paymentOrderId: String
    var status: String
    var errorCode: String?
    var history: [Entry]?
}

/// An order's audit entries as `GET /v1/payment-orders/{id}/audit` shows them.
struct AuditView: Decodable, Sendable {
    struct Entry: Decodable, Sendable {
        var outcome: String
        var pspStatus: String?
        var sourcePartition: Int32
        var sourceOffset: Int64
        var hash: String
    }
    var paymentOrderId: String
    var entries: [Entry]
}

private struct OrderPage: Decodable {
    struct Item: Decodable { var paymentOrderId: String }
    var orders: [Item]
    var nextCursor: String?
}

/// Judges a finished run from three independent sources: the payment API (each order's status
/// and its result history), the topics (psp-result-updates, payment-events, the dead-letter
/// topic) and the consumer group's committed offsets; plus the audit trail when the node has one.
struct Checker: Sendable {
    let api: HTTPClient
    let kafka: KafkaClient
    let orders: [OrderEntry]
    /// Offsets of the topics when the run began: records before them belong to earlier runs.
    let dlqStart: [KafkaTopicPartition: Int64]
    var strictResults = true
    /// Poison records injected on purpose: exactly this many dead letters are expected.
    var expectedDeadLetters = 0
    var concurrency = 32

    func check() async throws -> CheckReport {
        var report = CheckReport()
        let byId = Dictionary(uniqueKeysWithValues: orders.map { ($0.paymentOrderId, $0) })
        report.ordersChecked = orders.count

        // 1. The API lists every accepted order.
        var listed = Set<String>()
        var cursor: String?
        repeat {
            let response = try await api.get("/v1/payment-orders?limit=500" + (cursor.map { "&cursor=\($0)" } ?? ""))
            guard response.status == 200 else { throw CheckerError("listing orders answered HTTP \(response.status)") }
            let page = try JSONDecoder().decode(OrderPage.self, from: Data(response.bodyBytes))
            for item in page.orders { listed.insert(item.paymentOrderId) }
            cursor = page.orders.isEmpty ? nil : page.nextCursor
        } while cursor != nil
        report.ordersListedByAPI = listed.count
        for order in orders where !listed.contains(order.paymentOrderId) {
            report.add(Violation(kind: "order-not-listed", paymentOrderId: order.paymentOrderId,
                                 detail: "accepted (\(order.token)) but absent from GET /v1/payment-orders"))
        }

        // 2. Each order's final status and history: exactly one applied transition, and exactly
        // the distinct results its token produces.
        let views = try await fetchViews()
        for order in orders {
            let expected = TokenExpectation.forToken(order.token)
            guard let view = views[order.paymentOrderId] else {
                report.add(Violation(kind: "order-missing", paymentOrderId: order.paymentOrderId, detail: "GET answers 404"))
                continue
            }
            if view.status != expected.finalStatus || view.errorCode != expected.errorCode {
                report.add(Violation(kind: "wrong-final-status", paymentOrderId: order.paymentOrderId,
                                     detail: "\(order.token) must end \(expected.finalStatus)\(expected.errorCode.map { " \($0)" } ?? ""), is \(view.status)\(view.errorCode.map { " \($0)" } ?? "")"))
            }
            let history = view.history ?? []
            let applied = history.filter { $0.outcome == "applied" }.count
            if applied != 1 {
                report.add(Violation(kind: "applied-transitions", paymentOrderId: order.paymentOrderId,
                                     detail: "\(applied) applied transitions (must be exactly 1); history: \(history.map { "\($0.pspStatus)/\($0.outcome)" })"))
            }
            let distinct = history.filter { $0.outcome != "duplicate" }.map(\.pspStatus)
            if distinct != expected.resultStatuses {
                report.add(Violation(kind: "result-history", paymentOrderId: order.paymentOrderId,
                                     detail: "distinct results \(distinct), expected \(expected.resultStatuses) for \(order.token)"))
            }
        }

        // 3. The audit trail, where the node has one: one entry per result the order's history
        //    shows, with the same outcomes in the same order, and exactly one applied.
        if let first = orders.first {
            let probe = try await api.get("/v1/payment-orders/\(first.paymentOrderId)/audit")
            if probe.status != 404 {
                var checked = 0
                for order in orders {
                    let response = try await api.get("/v1/payment-orders/\(order.paymentOrderId)/audit")
                    guard response.status == 200, let audit = try? JSONDecoder().decode(AuditView.self, from: Data(response.bodyBytes)) else {
                        report.add(Violation(kind: "audit-trail", paymentOrderId: order.paymentOrderId,
                                             detail: "GET .../audit answered HTTP \(response.status) or an unreadable body"))
                        continue
                    }
                    let historyOutcomes = (views[order.paymentOrderId]?.history ?? []).map(\.outcome)
                    let auditOutcomes = audit.entries.map(\.outcome)
                    if auditOutcomes != historyOutcomes || auditOutcomes.filter({ $0 == "applied" }).count != 1 {
                        report.add(Violation(kind: "audit-trail", paymentOrderId: order.paymentOrderId,
                                             detail: "audit outcomes \(auditOutcomes) differ from history \(historyOutcomes) or lack one applied"))
                        continue
                    }
                    checked += 1
                }
                report.auditTrail = "checked: \(checked) of \(orders.count) orders have one audit entry per result seen, exactly one applied"
            }
        }

        // 4. No PSP result missing from psp-result-updates; repeated copies counted.
        let reader = TopicReader(client: kafka)
        var results: [String: [String: Int]] = [:]
        var undecodable = 0
        try await reader.readAll(PaymentTopics.pspResultUpdates) { _, record in
            guard let key = record.key else { return }
            let id = String(decoding: key, as: UTF8.self)
            guard byId[id] != nil else { return }
            report.pspResultRecords += 1
            guard let event = try? EventEnvelope.decode(Paynode_Events_V1_PspResultUpdateEvent.self, value: record.value, headers: record.headers) else {
                undecodable += 1
                return
            }
            let status = switch event.pspStatus {
            case .successful: "SUCCESSFUL"
            case .failed: "FAILED"
            case .pending: "PENDING"
            default: "UNSPECIFIED"
            }
            results[id, default: [:]][status, default: 0] += 1
        }
        if undecodable > 0 {
            report.add(Violation(kind: "undecodable-result", paymentOrderId: "-", detail: "\(undecodable) records of this run's orders in psp-result-updates do not decode"))
        }
        for order in orders {
            let seen = results[order.paymentOrderId] ?? [:]
            for status in TokenExpectation.forToken(order.token).resultStatuses where seen[status, default: 0] == 0 {
                report.add(Violation(kind: "missing-psp-result", paymentOrderId: order.paymentOrderId,
                                     detail: "no \(status) result in psp-result-updates (\(order.token); found \(seen))"))
            }
            let extra = seen.values.reduce(0) { $0 + max(0, $1 - 1) }
            if extra > 0 {
                report.duplicateResultRecords += extra
                report.ordersWithDuplicateResults += 1
                if strictResults {
                    report.add(Violation(kind: "duplicate-psp-result", paymentOrderId: order.paymentOrderId,
                                         detail: "the same result appears more than once in psp-result-updates: \(seen)"))
                }
            }
        }

        // 5. Exactly one terminal event per order in payment-events, of the right kind.
        var events: [String: [String]] = [:]
        try await reader.readAll(PaymentTopics.paymentEvents) { _, record in
            guard let key = record.key else { return }
            let id = String(decoding: key, as: UTF8.self)
            guard byId[id] != nil else { return }
            report.paymentEventRecords += 1
            let schema = (try? EventEnvelope.schema(of: record.headers))?.messageName ?? "?"
            events[id, default: []].append(schema.hasSuffix("PaymentSucceeded") ? "SUCCESSFUL" : schema.hasSuffix("PaymentFailed") ? "FAILED" : schema)
        }
        for order in orders {
            let seen = events[order.paymentOrderId] ?? []
            let expected = TokenExpectation.forToken(order.token).finalStatus
            if seen.count > 1 {
                report.add(Violation(kind: "duplicate-payment-event", paymentOrderId: order.paymentOrderId,
                                     detail: "\(seen.count) terminal events in payment-events: \(seen)"))
            } else if seen != [expected] {
                report.add(Violation(kind: "payment-event", paymentOrderId: order.paymentOrderId,
                                     detail: "payment-events holds \(seen), expected [\(expected)]"))
            }
        }

        // 6. The consumer group has committed everything in psp-result-updates.
        report.groupLag = try await groupLag()
        if report.groupLag != 0 {
            report.add(Violation(kind: "group-lag", paymentOrderId: "-",
                                 detail: "group \(PaymentTopics.consumerGroup) lags \(report.groupLag) records on \(PaymentTopics.pspResultUpdates)"))
        }

        // 7. No dead letters unless poison was injected.
        let dlqEnd = try await reader.endOffsets(of: PaymentTopics.deadLetters)
        report.deadLetters = Int(dlqEnd.reduce(0) { $0 + max(0, $1.value - (dlqStart[$1.key] ?? 0)) })
        if report.deadLetters != expectedDeadLetters {
            report.add(Violation(kind: "dead-letters", paymentOrderId: "-",
                                 detail: "\(report.deadLetters) records went to \(PaymentTopics.deadLetters) during the run, expected \(expectedDeadLetters)"))
        }
        return report
    }

    /// Records of psp-result-updates the group has not committed yet.
    func groupLag() async throws -> Int64 {
        let committed = try await kafka.fetchOffsets(group: PaymentTopics.consumerGroup, topics: [PaymentTopics.pspResultUpdates])
        let ends = try await TopicReader(client: kafka).endOffsets(of: PaymentTopics.pspResultUpdates)
        return ends.reduce(0) { $0 + max(0, $1.value - (committed[$1.key]?.offset ?? 0)) }
    }

    private func fetchViews() async throws -> [String: OrderView] {
        let dispenser = IndexDispenser()
        let found = Locked<[String: OrderView]>([:])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = dispenser.take()
                        guard index < orders.count else { return }
                        let id = orders[index].paymentOrderId
                        let response = try await api.get("/v1/payment-orders/\(id)")
                        guard response.status == 200 else { continue }
                        let view = try JSONDecoder().decode(OrderView.self, from: Data(response.bodyBytes))
                        found.withLock { $0[id] = view }
                    }
                }
            }
            try await group.waitForAll()
        }
        return found.value
    }
}

struct CheckerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
