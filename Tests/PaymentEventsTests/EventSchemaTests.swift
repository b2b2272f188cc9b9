import Foundation
import Testing
@testable import PaymentEvents
import PaynodeTestSupport
import Protocol

// Sample messages with every field set, and with every optional field absent.
enum SampleEvents {
    static var pspResult: Paynode_Events_V1_PspResultUpdateEvent {
        var event = Paynode_Events_V1_PspResultUpdateEvent()
        event.paymentOrderID = "po_01HZX3K7"
        event.pspStatus = .failed
        event.pspReference = "pi_3OZ"
        event.eventTimeUnixMs = 1_700_000_000_123
        event.errorCode = "card_declined"
        event.errorMessage = "Your card was declined. ✗"
        event.psp = "stripe"
        event.pspEventID = "evt_1NG8"
        return event
    }

    static var pspResultMinimal: Paynode_Events_V1_PspResultUpdateEvent {
        var event = Paynode_Events_V1_PspResultUpdateEvent()
        event.paymentOrderID = "po_2"
        event.pspStatus = .pending
        event.eventTimeUnixMs = 1_700_000_000_000
        event.psp = "adyen"
        return event
    }

    static var orderCreated: Paynode_Events_V1_PaymentOrderCreated {
        var event = Paynode_Events_V1_PaymentOrderCreated()
        event.paymentOrderID = "po_01HZX3K7"
        event.merchantID = "m_1"
        event.amountMinor = 5000
        event.currency = "EUR"
        event.paymentMethod = "tok_visa"
        event.psp = "stripe"
        event.createdAtUnixMs = 1_700_000_000_000
        event.idempotencyKey = "c0ffee-1"
        return event
    }

    static var source: Paynode_Events_V1_RecordSource {
        var source = Paynode_Events_V1_RecordSource()
        source.topic = "psp-result-updates"
        source.partition = 2
        source.offset = 41_234
        return source
    }

    static var succeeded: Paynode_Events_V1_PaymentSucceeded {
        var event = Paynode_Events_V1_PaymentSucceeded()
        event.paymentOrderID = "po_01HZX3K7"
        event.psp = "adyen"
        event.pspReference = "8835511210681234"
        event.amountMinor = Int64.max
        event.currency = "EUR"
        event.occurredAtUnixMs = 1_700_000_000_999
        event.source = source
        return event
    }

    static var failed: Paynode_Events_V1_PaymentFailed {
        var event = Paynode_Events_V1_PaymentFailed()
        event.paymentOrderID = "po_3"
        event.psp = "stripe"
        event.amountMinor = 1
        event.currency = "USD"
        event.errorCode = "insufficient_funds"
        event.errorMessage = "insufficient funds"
        event.occurredAtUnixMs = 1_700_000_001_000
        event.source = source
        return event
    }
}

/// Appends an unsigned protobuf varint.
private func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
    var remaining = value
    while remaining >= 0x80 {
        bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
        remaining >>= 7
    }
    bytes.append(UInt8(remaining))
}

/// What a newer writer of the same major version adds: field 99 (varint 150) and field 100
/// (string), numbers this schema does not use.
private var newerWriterExtraFields: [UInt8] {
    var bytes: [UInt8] = []
    appendVarint(99 << 3 | 0, to: &bytes)  // field 99, wire type 0 (varint)
    appendVarint(150, to: &bytes)
    let text = Array("added in a later v1".utf8)
    appendVarint(100 << 3 | 2, to: &bytes)  // field 100, wire type 2 (length-delimited)
    appendVarint(UInt64(text.count), to: &bytes)
    bytes += text
    return bytes
}

private func header(_ key: String, _ value: String?) -> RecordHeader {
    RecordHeader(key: key, value: value.map { Array($0.utf8) })
}

private func schemaError<T>(_ body: () throws(EventSchemaError) -> T) -> EventSchemaError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

@Suite("Events: messages round-trip")
struct EventsRoundTripTests {
    func roundTrip<Event: PaynodeEvent & Equatable>(_ event: Event) throws -> Event {
        let encoded = try EventEnvelope.encode(event)
        let decoded = try EventEnvelope.decode(Event.self, value: encoded.value, headers: encoded.headers)
        #expect(decoded == event)
        return decoded
    }

    @Test func pspResultUpdateEvent() throws {
        let decoded = try roundTrip(SampleEvents.pspResult)
        #expect(decoded.pspStatus == .failed)
        #expect(decoded.hasPspReference && decoded.hasErrorCode && decoded.hasErrorMessage && decoded.hasPspEventID)
        #expect(decoded.errorMessage == "Your card was declined. ✗")
    }

    @Test func pspResultUpdateEventWithOptionalFieldsAbsent() throws {
        let decoded = try roundTrip(SampleEvents.pspResultMinimal)
        #expect(!decoded.hasPspReference && !decoded.hasErrorCode && !decoded.hasErrorMessage && !decoded.hasPspEventID)
        #expect(decoded.pspReference == "")
    }

    @Test func optionalEmptyStringIsPresent() throws {
        var event = SampleEvents.pspResultMinimal
        event.pspReference = ""
        let decoded = try roundTrip(event)
        #expect(decoded.hasPspReference)
    }

    @Test func paymentOrderCreated() throws {
        _ = try roundTrip(SampleEvents.orderCreated)
    }

    @Test func paymentSucceeded() throws {
        let decoded = try roundTrip(SampleEvents.succeeded)
        #expect(decoded.source.topic == "psp-result-updates" && decoded.source.partition == 2 && decoded.source.offset == 41_234)
        #expect(decoded.amountMinor == Int64.max)
    }

    @Test func paymentFailed() throws {
        let decoded = try roundTrip(SampleEvents.failed)
        #expect(decoded.hasErrorCode && !decoded.hasPspReference && decoded.hasSource)
    }

    @Test func unknownEnumValueFromNewerWriterIsKept() throws {
        // psp_status = 7: a status a later v1 might add.
        var current = SampleEvents.pspResultMinimal
        current.pspStatus = .unspecified  // not written, so the appended field is the only status
        var bytes = try EventEnvelope.encode(current).value
        appendVarint(2 << 3 | 0, to: &bytes)
        appendVarint(7, to: &bytes)
        let decoded = try EventEnvelope.decodeValue(Paynode_Events_V1_PspResultUpdateEvent.self, value: bytes)
        #expect(decoded.pspStatus == .UNRECOGNIZED(7))
        // Written back in field-number order (so not byte-equal to the input), the value survives.
        let reencoded = try EventEnvelope.encode(decoded).value
        let again = try EventEnvelope.decodeValue(Paynode_Events_V1_PspResultUpdateEvent.self, value: reencoded)
        #expect(again.pspStatus == .UNRECOGNIZED(7) && again == decoded)
    }
}

@Suite("Events: schema headers")
struct EventsHeaderTests {
    @Test func headerNamesAndValues() {
        #expect(EventSchema.schemaHeader == "paynode-schema")
        #expect(EventSchema.versionHeader == "paynode-schema-version")
        #expect(EventEnvelope.headers(for: Paynode_Events_V1_PspResultUpdateEvent.self) == [
            header("paynode-schema", "paynode.events.v1.PspResultUpdateEvent"),
            header("paynode-schema-version", "1"),
        ])
        let names = [
            EventEnvelope.headers(for: Paynode_Events_V1_PaymentOrderCreated.self),
            EventEnvelope.headers(for: Paynode_Events_V1_PaymentSucceeded.self),
            EventEnvelope.headers(for: Paynode_Events_V1_PaymentFailed.self),
        ].map { String(decoding: $0[0].value ?? [], as: UTF8.self) }
        #expect(names == [
            "paynode.events.v1.PaymentOrderCreated", "paynode.events.v1.PaymentSucceeded", "paynode.events.v1.PaymentFailed",
        ])
    }

    @Test func encodeNamesTheMessage() throws {
        let encoded = try EventEnvelope.encode(SampleEvents.failed)
        #expect(encoded.headers == EventEnvelope.headers(for: Paynode_Events_V1_PaymentFailed.self))
    }

    @Test func checkAcceptsOwnHeadersAmongOthers() throws {
        let headers = [header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
            + EventEnvelope.headers(for: Paynode_Events_V1_PspResultUpdateEvent.self)
        let id = try EventEnvelope.check(headers, expecting: Paynode_Events_V1_PspResultUpdateEvent.self)
        #expect(id == EventSchemaID(messageName: "paynode.events.v1.PspResultUpdateEvent", majorVersion: 1))
    }

    @Test func schemaChoosesAmongSeveralMessagesOfOneTopic() throws {
        let encoded = try EventEnvelope.encode(SampleEvents.succeeded)
        let id = try EventEnvelope.schema(of: encoded.headers)
        #expect(id.messageName == Paynode_Events_V1_PaymentSucceeded.protoMessageName)
    }

    @Test func lastHeaderOccurrenceCounts() throws {
        let headers = [header("paynode-schema", "paynode.events.v1.PaymentFailed")]
            + EventEnvelope.headers(for: Paynode_Events_V1_PaymentSucceeded.self)
        #expect(try EventEnvelope.schema(of: headers).messageName == "paynode.events.v1.PaymentSucceeded")
    }

    @Test func unknownMajorVersionIsRefused() throws {
        let headers = [
            header("paynode-schema", "paynode.events.v2.PspResultUpdateEvent"),
            header("paynode-schema-version", "2"),
        ]
        // The value would decode fine as v1; the header check refuses the record before that.
        let value = try EventEnvelope.encode(SampleEvents.pspResult).value
        let error = schemaError { () throws(EventSchemaError) in
            try EventEnvelope.decode(Paynode_Events_V1_PspResultUpdateEvent.self, value: value, headers: headers)
        }
        guard case .unsupportedVersion(let schema, let version) = error else {
            Issue.record("expected unsupportedVersion, got \(String(describing: error))")
            return
        }
        #expect(schema == "paynode.events.v2.PspResultUpdateEvent" && version == "2")
        let message = String(describing: error!)
        #expect(message.contains("paynode-schema='paynode.events.v2.PspResultUpdateEvent'"))
        #expect(message.contains("paynode-schema-version='2'"))
        #expect(message.contains("major version 1"))

        // The same refusal from schema(of:) and check(_:expecting:).
        for error in [
            schemaError { () throws(EventSchemaError) in try EventEnvelope.schema(of: headers) },
            schemaError { () throws(EventSchemaError) in
                try EventEnvelope.check(headers, expecting: Paynode_Events_V1_PspResultUpdateEvent.self)
            },
        ] {
            guard case .unsupportedVersion = error else {
                Issue.record("expected unsupportedVersion, got \(String(describing: error))")
                continue
            }
        }
    }

    @Test func unknownMajorVersionOfAnotherPackageIsRefused() {
        let headers = [header("paynode-schema", "paynode.ledger.LedgerEntry"), header("paynode-schema-version", "3")]
        guard case .unsupportedVersion = schemaError({ () throws(EventSchemaError) in try EventEnvelope.schema(of: headers) }) else {
            Issue.record("expected unsupportedVersion")
            return
        }
    }

    @Test func versionHeaderMustAgreeWithPackage() {
        let headers = [header("paynode-schema", "paynode.events.v1.PspResultUpdateEvent"), header("paynode-schema-version", "2")]
        guard case .inconsistentHeaders = schemaError({ () throws(EventSchemaError) in try EventEnvelope.schema(of: headers) }) else {
            Issue.record("expected inconsistentHeaders")
            return
        }
    }

    @Test func wrongMessageIsRefused() throws {
        let encoded = try EventEnvelope.encode(SampleEvents.orderCreated)
        let error = schemaError { () throws(EventSchemaError) in
            try EventEnvelope.decode(Paynode_Events_V1_PspResultUpdateEvent.self, value: encoded.value, headers: encoded.headers)
        }
        guard case .unexpectedMessage(let expected, let found) = error else {
            Issue.record("expected unexpectedMessage, got \(String(describing: error))")
            return
        }
        #expect(expected == "paynode.events.v1.PspResultUpdateEvent" && found == "paynode.events.v1.PaymentOrderCreated")
    }

    @Test func missingHeadersAreRefused() {
        let onlySchema = [header("paynode-schema", "paynode.events.v1.PspResultUpdateEvent")]
        let onlyVersion = [header("paynode-schema-version", "1")]
        for (headers, missing) in [(onlySchema, "paynode-schema-version"), (onlyVersion, "paynode-schema"), ([], "paynode-schema")] {
            guard case .missingHeader(let name) = schemaError({ () throws(EventSchemaError) in try EventEnvelope.schema(of: headers) }) else {
                Issue.record("expected missingHeader for \(headers)")
                continue
            }
            #expect(name == missing)
        }
    }

    @Test(arguments: [
        ("paynode.events.v1.PspResultUpdateEvent", nil),
        ("paynode.events.v1.PspResultUpdateEvent", ""),
        ("paynode.events.v1.PspResultUpdateEvent", "01"),
        ("paynode.events.v1.PspResultUpdateEvent", "+1"),
        ("paynode.events.v1.PspResultUpdateEvent", " 1"),
        ("paynode.events.v1.PspResultUpdateEvent", "1.0"),
        ("paynode.events.v1.PspResultUpdateEvent", "0"),
        ("paynode.events.v1.PspResultUpdateEvent", "99999999999999999999"),
        ("PspResultUpdateEvent", "1"),
        ("paynode..v1.PspResultUpdateEvent", "1"),
        ("paynode.events.v1.", "1"),
        ("", "1"),
        (nil, "1"),
    ] as [(String?, String?)])
    func malformedHeadersAreRefused(schema: String?, version: String?) {
        let headers = [header("paynode-schema", schema), header("paynode-schema-version", version)]
        guard case .malformedHeader = schemaError({ () throws(EventSchemaError) in try EventEnvelope.schema(of: headers) }) else {
            Issue.record("expected malformedHeader for schema \(String(describing: schema)), version \(String(describing: version))")
            return
        }
    }

    @Test func nonUTF8HeaderIsRefused() {
        let headers = [RecordHeader(key: "paynode-schema", value: [0xC3, 0x28]), header("paynode-schema-version", "1")]
        guard case .malformedHeader = schemaError({ () throws(EventSchemaError) in try EventEnvelope.schema(of: headers) }) else {
            Issue.record("expected malformedHeader")
            return
        }
    }
}

@Suite("Events: compatibility and bad values")
struct EventsCompatibilityTests {
    @Test func currentReaderReadsRecordFromNewerWriterWithAddedFields() throws {
        let original = SampleEvents.pspResult
        let current = try EventEnvelope.encode(original)
        let extra = newerWriterExtraFields
        let newerValue = current.value + extra
        // Same major version: the newer writer's headers are the same as ours.
        let decoded = try EventEnvelope.decode(
            Paynode_Events_V1_PspResultUpdateEvent.self, value: newerValue, headers: current.headers)

        // The known fields are intact.
        #expect(decoded.paymentOrderID == original.paymentOrderID)
        #expect(decoded.pspStatus == original.pspStatus)
        #expect(decoded.pspReference == original.pspReference)
        #expect(decoded.eventTimeUnixMs == original.eventTimeUnixMs)
        #expect(decoded.errorCode == original.errorCode && decoded.errorMessage == original.errorMessage)
        #expect(decoded.psp == original.psp && decoded.pspEventID == original.pspEventID)
        var knownOnly = decoded
        knownOnly.unknownFields = .init()
        #expect(knownOnly == original)

        // The added fields are carried, byte for byte, as unknown fields.
        #expect(Array(decoded.unknownFields.data) == extra)
        #expect(decoded != original)

        // Re-serializing preserves them (a pass-through consumer loses nothing).
        let reencoded = try EventEnvelope.encode(decoded).value
        #expect(reencoded == newerValue)
        let again = try EventEnvelope.decodeValue(Paynode_Events_V1_PspResultUpdateEvent.self, value: reencoded)
        #expect(again == decoded)
    }

    @Test func addedFieldsOnEveryMessageAreKept() throws {
        func check<Event: PaynodeEvent & Equatable>(_ event: Event) throws {
            let value = try EventEnvelope.encode(event).value + newerWriterExtraFields
            let decoded = try EventEnvelope.decode(Event.self, value: value, headers: EventEnvelope.headers(for: Event.self))
            #expect(Array(decoded.unknownFields.data) == newerWriterExtraFields)
            #expect(try EventEnvelope.encode(decoded).value == value)
        }
        try check(SampleEvents.orderCreated)
        try check(SampleEvents.succeeded)
        try check(SampleEvents.failed)
    }

    @Test(arguments: [
        [0x0A, 0x05, 0x41],  // field 1 claims 5 bytes, 1 follows
        [0x08],  // a tag and no value
        [0x20, 0xFF, 0xFF],  // a varint that never ends
        [0x0F, 0x01],  // wire type 7 does not exist
        [0x0A, 0x02, 0xC3, 0x28],  // field 1 (string) is not UTF-8
        [0x00, 0x01],  // field number 0
        Array("not protobuf at all, just text".utf8),
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],  // an over-long varint tag
    ] as [[UInt8]])
    func garbageValueThrows(value: [UInt8]) {
        let headers = EventEnvelope.headers(for: Paynode_Events_V1_PspResultUpdateEvent.self)
        let error = schemaError { () throws(EventSchemaError) in
            try EventEnvelope.decode(Paynode_Events_V1_PspResultUpdateEvent.self, value: value, headers: headers)
        }
        guard case .undecodableValue(let schema, _) = error else {
            Issue.record("expected undecodableValue for \(value), got \(String(describing: error))")
            return
        }
        #expect(schema == "paynode.events.v1.PspResultUpdateEvent")
    }

    @Test func tombstoneIsRefused() {
        let headers = EventEnvelope.headers(for: Paynode_Events_V1_PaymentFailed.self)
        guard case .missingValue = schemaError({ () throws(EventSchemaError) in
            try EventEnvelope.decode(Paynode_Events_V1_PaymentFailed.self, value: nil, headers: headers)
        }) else {
            Issue.record("expected missingValue")
            return
        }
    }
}

@Suite("Events: unix-millisecond times")
struct EventsTimeTests {
    @Test func knownValues() {
        #expect(EventTime.unixMilliseconds(Date(timeIntervalSince1970: 0)) == 0)
        #expect(EventTime.unixMilliseconds(Date(timeIntervalSince1970: 1_700_000_000.123)) == 1_700_000_000_123)
        #expect(EventTime.unixMilliseconds(Date(timeIntervalSince1970: -1.5)) == -1500)
        #expect(EventTime.date(unixMilliseconds: 1_700_000_000_123).timeIntervalSince1970 == 1_700_000_000.123)
        #expect(EventTime.unixMilliseconds(Date.distantFuture) > 0)
        let now = EventTime.nowUnixMilliseconds()
        #expect(now > 1_700_000_000_000)
    }

    @Test func millisecondsSurviveADate() {
        var generator = SeededGenerator(seed: 42)
        let fixed: [Int64] = [0, 1, -1, 999, 1000, 1_700_000_000_123, 4_102_444_800_000, -62_135_596_800_000]
        let random = (0..<2000).map { _ in Int64.random(in: -62_135_596_800_000...253_402_300_799_999, using: &generator) }
        for milliseconds in fixed + random {
            let back = EventTime.unixMilliseconds(EventTime.date(unixMilliseconds: milliseconds))
            #expect(back == milliseconds, "\(milliseconds)")
        }
    }
}
