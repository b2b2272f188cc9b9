import PaymentService

/// The replies to the payment service's outcomes.
extension APIReply {
    /// `POST /v1/payment-orders`: 201 with the order, marked `Idempotent-Replayed: true` when
    /// the key's first creation is replayed; the refusals are their errors.
    package init(creation outcome: CreateOrderOutcome) {
        switch outcome {
        case .created(let order):
            self.init(status: 201, json: order)
        case .replayed(let order):
            self.init(status: 201, json: order)
            headers[Self.idempotentReplayed] = "true"
        case .invalid(let error):
            self.init(APIError.invalid(error))
        case .idempotencyKeyReused(let key):
            self.init(APIError.idempotencyKeyReused(key: key))
        case .merchantForbidden:
            self.init(APIError.merchantForbidden)
        }
    }

    /// `POST /v1/payment-orders/{id}/refunds`: 201 with the refund (`Idempotent-Replayed: true`
    /// for a replayed key), 404 naming `id`, the refusals their errors.
    package init(refund outcome: CreateRefundOutcome, id: String) {
        switch outcome {
        case .created(let refund):
            self.init(status: 201, json: refund)
        case .replayed(let refund):
            self.init(status: 201, json: refund)
            headers[Self.idempotentReplayed] = "true"
        case .invalid(let error):
            self.init(APIError.invalid(error))
        case .idempotencyKeyReused(let key):
            self.init(APIError.idempotencyKeyReused(key: key))
        case .notFound:
            self.init(APIError.notFound(id: id))
        case .refused(let refusal):
            self.init(APIError.refundRefused(refusal))
        }
    }

    /// `GET /v1/payment-orders/{id}` and its `/audit`: 200 with the JSON, else 404 naming `id`
    /// as the client sent it.
    package init(_ lookup: OrderLookup, id: String) {
        switch lookup {
        case .found(let json): self.init(status: 200, json: json)
        case .notFound: self.init(APIError.notFound(id: id))
        }
    }

    /// A read that found what it was asked for (a page of orders).
    package static func ok(_ json: String) -> APIReply {
        APIReply(status: 200, json: json)
    }
}
