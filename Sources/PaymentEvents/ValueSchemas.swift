import SwiftProtobuf

/// The messages a topic may require every record's value to be (topic config
/// `paynode.value.schema`, checked by the broker at produce): paynode's events, each decoded as
/// Protocol Buffers binary with nothing left unknown and the fields its schema marks "Required
/// by convention" present, so a refusal names the field.
public enum ValueSchemas {
    /// Why `value` is not a valid message of the schema, or nil when it is.
    public typealias Check = @Sendable (_ value: [UInt8]?) -> String?

    public static let checks: [String: Check] = [
        Paynode_Events_V1_PspResultUpdateEvent.protoMessageName: { value in
            check(value, as: Paynode_Events_V1_PspResultUpdateEvent.self) { event in
                required([("payment_order_id", !event.paymentOrderID.isEmpty), ("psp_status", event.pspStatus != .unspecified),
                          ("event_time_unix_ms", event.eventTimeUnixMs > 0), ("psp", !event.psp.isEmpty)])
            }
        },
        Paynode_Events_V1_PaymentOrderCreated.protoMessageName: { value in
            check(value, as: Paynode_Events_V1_PaymentOrderCreated.self) { event in
                required([("payment_order_id", !event.paymentOrderID.isEmpty), ("merchant_id", !event.merchantID.isEmpty),
                          ("amount_minor", event.amountMinor > 0), ("currency", event.currency.utf8.count == 3),
                          ("payment_method", !event.paymentMethod.isEmpty), ("psp", !event.psp.isEmpty),
                          ("created_at_unix_ms", event.createdAtUnixMs > 0), ("idempotency_key", !event.idempotencyKey.isEmpty)])
            }
        },
        Paynode_Events_V1_PaymentSucceeded.protoMessageName: { value in
            check(value, as: Paynode_Events_V1_PaymentSucceeded.self) { event in
                required([("payment_order_id", !event.paymentOrderID.isEmpty), ("psp", !event.psp.isEmpty),
                          ("currency", !event.currency.isEmpty), ("occurred_at_unix_ms", event.occurredAtUnixMs > 0),
                          ("source", event.hasSource)])
            }
        },
        Paynode_Events_V1_PaymentFailed.protoMessageName: { value in
            check(value, as: Paynode_Events_V1_PaymentFailed.self) { event in
                required([("payment_order_id", !event.paymentOrderID.isEmpty), ("psp", !event.psp.isEmpty),
                          ("currency", !event.currency.isEmpty), ("occurred_at_unix_ms", event.occurredAtUnixMs > 0),
                          ("source", event.hasSource)])
            }
        },
        Paynode_Events_V1_RefundRequested.protoMessageName: { value in
            check(value, as: Paynode_Events_V1_RefundRequested.self) { event in
                required([("refund_id", !event.refundID.isEmpty), ("payment_order_id", !event.paymentOrderID.isEmpty),
                          ("amount_minor", event.amountMinor > 0), ("currency", event.currency.utf8.count == 3), ("psp", !event.psp.isEmpty),
                          ("requested_at_unix_ms", event.requestedAtUnixMs > 0), ("idempotency_key", !event.idempotencyKey.isEmpty)])
            }
        },
        Paynode_Events_V1_PspRefundResultEvent.protoMessageName: { value in
            check(value, as: Paynode_Events_V1_PspRefundResultEvent.self) { event in
                required([("refund_id", !event.refundID.isEmpty), ("payment_order_id", !event.paymentOrderID.isEmpty),
                          ("psp_status", event.pspStatus != .unspecified), ("event_time_unix_ms", event.eventTimeUnixMs > 0),
                          ("psp", !event.psp.isEmpty)])
            }
        },
        Paynode_Events_V1_PaymentRefunded.protoMessageName: { value in
            check(value, as: Paynode_Events_V1_PaymentRefunded.self) { event in
                required([("payment_order_id", !event.paymentOrderID.isEmpty), ("refund_id", !event.refundID.isEmpty),
                          ("psp", !event.psp.isEmpty), ("amount_minor", event.amountMinor > 0), ("currency", !event.currency.isEmpty),
                          ("occurred_at_unix_ms", event.occurredAtUnixMs > 0), ("source", event.hasSource)])
            }
        },
    ]

    private static func check<M: SwiftProtobuf.Message>(_ value: [UInt8]?, as _: M.Type, fields: (M) -> String?) -> String? {
        let name = M.protoMessageName
        guard let value else { return "the record has no value; \(name) needs one" }
        let message: M
        do {
            message = try M(serializedBytes: value)
        } catch {
            return "the value is not a \(name): \(error)"
        }
        // A value of another message often decodes "successfully", into unknown fields.
        if !message.unknownFields.data.isEmpty, let number = firstFieldNumber(message.unknownFields.data) {
            return "field \(number) is not a field of \(name)"
        }
        return fields(message).map { "\(name) field \($0)" }
    }

    /// The first failing field, described.
    private static func required(_ fields: [(String, Bool)]) -> String? {
        fields.first { !$0.1 }.map { "\($0.0) is missing or empty (required by convention)" }
    }

    /// The field number of the first unknown field's tag (a varint: number << 3 | wire type).
    private static func firstFieldNumber(_ data: some Collection<UInt8>) -> UInt64? {
        var tag: UInt64 = 0
        var shift: UInt64 = 0
        for byte in data.prefix(10) {
            tag |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return tag >> 3 }
            shift += 7
        }
        return nil
    }
}
