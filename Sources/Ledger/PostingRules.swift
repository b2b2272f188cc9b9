import PaymentEvents
import Protocol

/// What one `payment-events` record means for the ledger.
public enum LedgerInput: Sendable, Hashable {
    /// A money movement to post.
    case transfer(TransferRequest)
    /// Nothing moves (a FAILED payment): the position advances, nothing is written.
    case nothing
    /// Not a record the ledger can read: kept as a dead letter with the reason.
    case undecodable(reason: String)
}

/// How the ledger reads `payment-events` and decides postings, without I/O (psp-edge.md
/// section 4: TigerBeetle's and Formance's rules). A transfer's id comes from the event, so a
/// redelivered event is the same transfer: with the same content it posts nothing, with other
/// content it is a recorded conflict. A refund that would take a merchant's wallet below zero
/// is held, visible with its reason, and posted once the wallet has the money.
public enum PostingRules {
    /// Decodes a record of `payment-events` at `source`.
    public static func input(_ record: Record, source: EventSource) -> LedgerInput {
        let schema: EventSchemaID
        do {
            schema = try EventEnvelope.schema(of: record.headers)
        } catch {
            return .undecodable(reason: "\(error)")
        }
        do {
            switch schema.messageName {
            case Paynode_Events_V1_PaymentSucceeded.protoMessageName:
                let event = try EventEnvelope.decodeValue(Paynode_Events_V1_PaymentSucceeded.self, value: record.value)
                return payment(event, source: source)
            case Paynode_Events_V1_PaymentRefunded.protoMessageName:
                let event = try EventEnvelope.decodeValue(Paynode_Events_V1_PaymentRefunded.self, value: record.value)
                return refund(event, source: source)
            case Paynode_Events_V1_PaymentFailed.protoMessageName:
                _ = try EventEnvelope.decodeValue(Paynode_Events_V1_PaymentFailed.self, value: record.value)
                return .nothing
            default:
                return .undecodable(reason: "payment-events record of schema \(schema.messageName), which the ledger does not read")
            }
        } catch {
            return .undecodable(reason: "\(error)")
        }
    }

    static func payment(_ event: Paynode_Events_V1_PaymentSucceeded, source: EventSource) -> LedgerInput {
        guard event.hasMerchantID else {
            return .undecodable(reason: "PaymentSucceeded of \(event.paymentOrderID) has no merchant_id (written before it was added)")
        }
        guard !event.paymentOrderID.isEmpty, event.amountMinor > 0, !event.psp.isEmpty,
              let wallet = AccountID.merchant(event.merchantID, currency: event.currency),
              let clearing = AccountID.psp(event.psp, currency: event.currency) else {
            return .undecodable(reason: "PaymentSucceeded of '\(event.paymentOrderID)' has an invalid amount \(event.amountMinor), currency '\(event.currency)', merchant or PSP")
        }
        return .transfer(TransferRequest(
            id: "payment:\(event.paymentOrderID)", kind: .payment, debit: clearing, credit: wallet, amount: event.amountMinor,
            paymentOrderId: event.paymentOrderID, refundId: nil, merchantId: event.merchantID, psp: event.psp,
            pspReference: event.hasPspReference ? event.pspReference : nil, occurredAt: event.occurredAtUnixMs, source: source))
    }

    static func refund(_ event: Paynode_Events_V1_PaymentRefunded, source: EventSource) -> LedgerInput {
        guard event.hasMerchantID else {
            return .undecodable(reason: "PaymentRefunded \(event.refundID) has no merchant_id (written before it was added)")
        }
        guard !event.paymentOrderID.isEmpty, !event.refundID.isEmpty, event.amountMinor > 0, !event.psp.isEmpty,
              let wallet = AccountID.merchant(event.merchantID, currency: event.currency),
              let clearing = AccountID.psp(event.psp, currency: event.currency) else {
            return .undecodable(reason: "PaymentRefunded '\(event.refundID)' has an invalid amount \(event.amountMinor), currency '\(event.currency)', merchant or PSP")
        }
        return .transfer(TransferRequest(
            id: "refund:\(event.refundID)", kind: .refund, debit: wallet, credit: clearing, amount: event.amountMinor,
            paymentOrderId: event.paymentOrderID, refundId: event.refundID, merchantId: event.merchantID, psp: event.psp,
            pspReference: event.hasPspReference ? event.pspReference : nil, occurredAt: event.occurredAtUnixMs, source: source))
    }

    /// What a transfer request does, given what the ledger knows of its id and the debited
    /// account's balance.
    public enum Decision: Sendable, Hashable {
        case post
        /// Held until the debited wallet has the money: the reason is shown with it.
        case hold(reason: String)
        /// The same transfer again: nothing is written.
        case duplicate
        /// The same id with other content: recorded for a person, not posted.
        case conflict(reason: String)
    }

    /// `known`: the content hash the ledger holds for the transfer's id (posted or held), if any.
    public static func decide(_ request: TransferRequest, known: [UInt8]?, debitBalance: AccountBalance) -> Decision {
        if let known {
            return known == request.contentHash ? .duplicate
                : .conflict(reason: "transfer \(request.id) was recorded before with other content")
        }
        if request.debit.kind == .merchant {
            let available = debitBalance.balance(of: request.debit)
            if available < request.amount {
                return .hold(reason: "the wallet \(request.debit) has \(available), less than the refund's \(request.amount)")
            }
        }
        return .post
    }

    /// Whether a held transfer can be posted now that its debited wallet has `balance`.
    public static func canRelease(_ request: TransferRequest, debitBalance: AccountBalance) -> Bool {
        debitBalance.balance(of: request.debit) >= request.amount
    }
}
