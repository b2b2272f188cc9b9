import PaymentEvents
import Testing

/// paynode's events as topic value schemas: a valid event passes; garbage, another message and
/// a missing required field are named.
@Suite struct ValueSchemasTests {
    static let check = ValueSchemas.checks["paynode.events.v1.PspResultUpdateEvent"]!

    @Test func aValidResultPassesAndEveryFlawIsNamed() throws {
        let valid = Paynode_Events_V1_PspResultUpdateEvent(paymentOrderId: "01a20a1d-1df5-7000-82b1-4b8a7559036f", status: .successful,
                                                            pspReference: "pi_1", eventTimeMilliseconds: 1_700_000_000_000, errorCode: nil,
                                                            errorMessage: nil, psp: "stripe")
        #expect(Self.check(try valid.serializedBytes()) == nil)
        var missing = valid
        missing.psp = ""
        #expect(Self.check(try missing.serializedBytes())?.contains("field psp is missing") == true)
        #expect(Self.check(nil)?.contains("no value") == true)
        #expect(Self.check([0xFF, 0xFF, 0xFF])?.contains("is not a paynode.events.v1.PspResultUpdateEvent") == true)
        // A field the message does not have (number 9, a varint) is named by its number.
        #expect(Self.check([0x48, 0x01] + (try valid.serializedBytes()))?.contains("field 9 is not a field") == true)
        // Another message's value: its required fields are what is missing.
        var created = Paynode_Events_V1_PaymentOrderCreated()
        created.paymentOrderID = "o"
        #expect(Self.check(try created.serializedBytes())?.contains("psp_status is missing") == true)
        #expect(Set(ValueSchemas.checks.keys) == ["paynode.events.v1.PspResultUpdateEvent", "paynode.events.v1.PaymentOrderCreated",
                                                  "paynode.events.v1.PaymentSucceeded", "paynode.events.v1.PaymentFailed",
                                                  "paynode.events.v1.RefundRequested", "paynode.events.v1.PspRefundResultEvent",
                                                  "paynode.events.v1.PaymentRefunded"])
    }

    @Test func refundMessagesNameTheirMissingFields() throws {
        let check = try #require(ValueSchemas.checks[Paynode_Events_V1_PspRefundResultEvent.protoMessageName])
        var result = Paynode_Events_V1_PspRefundResultEvent()
        result.refundID = "o-r1"
        result.paymentOrderID = "o"
        result.pspStatus = .successful
        result.eventTimeUnixMs = 1
        result.psp = "stripe"
        #expect(check(try result.serializedBytes()) == nil)
        result.refundID = ""
        #expect(check(try result.serializedBytes())?.contains("refund_id is missing") == true)
        let requested = try #require(ValueSchemas.checks[Paynode_Events_V1_RefundRequested.protoMessageName])
        var request = Paynode_Events_V1_RefundRequested()
        request.refundID = "o-r1"
        request.paymentOrderID = "o"
        #expect(requested(try request.serializedBytes())?.contains("amount_minor is missing") == true)
        let refunded = try #require(ValueSchemas.checks[Paynode_Events_V1_PaymentRefunded.protoMessageName])
        #expect(refunded(try Paynode_Events_V1_PaymentRefunded().serializedBytes())?.contains("payment_order_id is missing") == true)
    }
}
