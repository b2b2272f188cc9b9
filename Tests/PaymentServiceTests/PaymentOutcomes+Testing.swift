@testable import PaymentService

/// The outcomes as the tests read them: what was answered, with no HTTP in between.
extension CreateOrderOutcome {
    /// The order's JSON, when one was created now or replayed.
    var order: String? {
        switch self {
        case .created(let order), .replayed(let order): order
        default: nil
        }
    }

    var isCreated: Bool {
        if case .created = self { true } else { false }
    }

    var isReplayed: Bool {
        if case .replayed = self { true } else { false }
    }

    /// Why the request was refused before anything was stored, if it was.
    var refusal: PaymentRequestError? {
        if case .invalid(let error) = self { error } else { nil }
    }
}

extension OrderLookup {
    var json: String? {
        if case .found(let json) = self { json } else { nil }
    }
}
