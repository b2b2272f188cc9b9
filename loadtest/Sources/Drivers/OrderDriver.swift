import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// When operation `index` is meant to start: every `1/rate` seconds from `start`, or as soon as
/// a worker is free when no rate is set (then latency counts from the actual start).
struct LoadSchedule: Sendable {
    var ratePerSecond: Double?
    var start: UInt64
    /// No operation is meant to start at or after this (µs on the run clock).
    var end: UInt64
    var maximumOperations: Int

    func intendedStart(of index: Int, now: UInt64) -> UInt64 {
        guard let rate = ratePerSecond else { return now }
        return start + UInt64(Double(index) * 1_000_000 / rate)
    }

    /// Whether operation `index` belongs to the run.
    func includes(_ index: Int, now: UInt64) -> Bool {
        guard index < maximumOperations else { return false }
        if ratePerSecond != nil { return intendedStart(of: index, now: now) < end }
        return now < end
    }
}

/// Hands out operation indexes to concurrent workers.
final class IndexDispenser: Sendable {
    private let next = Atomic<Int>(0)
    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Sleeps until `time` on the run clock (no-op when it is past).
func sleep(until time: UInt64, clock: RunClock) async {
    let now = clock.now()
    guard time > now else { return }
    try? await Task.sleep(until: clock.instant(atMicroseconds: time), clock: .continuous)
}

/// Creates payment orders through `POST /v1/payment-orders` with an Idempotency-Key per order,
/// from `concurrency` workers over pipelined keep-alive connections. A request that fails for
/// the connection (the service was SIGKILLed) or with a 5xx is sent again with the same key,
/// which the API answers with the first response: an order is created once however often it
/// is retried.
struct OrderDriver: Sendable {
    let client: HTTPClient
    let ledger: RunLedger
    let mix: TokenMix
    let keys: IdempotencyKeys
    let concurrency: Int
    /// Gives up on one order after this long (the report counts it as a failure).
    var orderDeadline: Duration = .seconds(120)

    func run(schedule: LoadSchedule) async {
        let dispenser = IndexDispenser()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = dispenser.take()
                        let now = ledger.clock.now()
                        guard schedule.includes(index, now: now) else { return }
                        let intended = schedule.intendedStart(of: index, now: now)
                        await sleep(until: intended, clock: ledger.clock)
                        await create(index: index, intendedAt: intended)
                    }
                }
            }
        }
    }

    private func create(index: Int, intendedAt: UInt64) async {
        let token = mix.token(for: index)
        let body = Self.requestBody(index: index, token: token)
        let key = keys.key(for: index)
        ledger.sent.add(1, ordering: .relaxed)
        let giveUp = ContinuousClock.now + orderDeadline
        var attempt = 0
        while ContinuousClock.now < giveUp {
            do {
                let response = try await client.request(.POST, "/v1/payment-orders", body: body,
                                                        headers: [("Idempotency-Key", key)], timeout: .seconds(10))
                if response.status == 201, let id = Self.paymentOrderId(inBody: response.body) {
                    ledger.accepted(OrderEntry(index: index, token: token, intendedAt: intendedAt, paymentOrderId: id))
                    return
                }
                if response.status < 500 {
                    // A 4xx will not change on a retry: the tool sent something wrong.
                    ledger.failures.add(1, ordering: .relaxed)
                    FileHandle.standardError.write(Data("order \(key): HTTP \(response.status) \(String(decoding: response.bodyBytes, as: UTF8.self))\n".utf8))
                    return
                }
            } catch {
                // Connection refused or reset while the service restarts: retry with the same key.
            }
            ledger.retries.add(1, ordering: .relaxed)
            attempt += 1
            try? await Task.sleep(for: .milliseconds(min(500, 20 * attempt)))
        }
        ledger.failures.add(1, ordering: .relaxed)
    }

    /// Order `index`'s request: amounts vary, the PSPs alternate.
    static func requestBody(index: Int, token: String) -> [UInt8] {
        let psp = index % 2 == 0 ? "stripe" : "adyen"
        return Array(#"{"merchantId":"m_load","amount":\#(100 + index % 100_000),"currency":"EUR","paymentMethod":"\#(token)","psp":"\#(psp)"}"#.utf8)
    }

    /// The `paymentOrderId` of a created order's JSON body, found without a full JSON parse
    /// (the load generator must stay cheaper than the node it measures).
    static func paymentOrderId(inBody responseBody: ByteBuffer) -> String? {
        responseBody.withUnsafeReadableBytes { body -> String? in
            let marker: StaticString = #""paymentOrderId":""#
            let markerLength = marker.utf8CodeUnitCount
            guard let base = body.baseAddress, body.count > markerLength else { return nil }
            var candidate = 0
            while let quote = body[candidate...(body.count - markerLength)].firstIndex(of: UInt8(ascii: "\"")) {
                if memcmp(base + quote, marker.utf8Start, markerLength) == 0 {
                    let start = quote + markerLength
                    guard let end = body[start...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
                    return String(decoding: UnsafeRawBufferPointer(rebasing: body[start..<end]), as: UTF8.self)
                }
                candidate = quote + 1
                if candidate > body.count - markerLength { return nil }
            }
            return nil
        }
    }
}
