import ArgumentParser

/// What a payment-method token must lead to (contract.md, "Simulated PSPs").
struct TokenExpectation: Sendable, Hashable {
    var finalStatus: String
    var errorCode: String?
    /// PSP results the order receives: PENDING then SUCCESSFUL for tok_pending, else one.
    var resultStatuses: [String]

    static func forToken(_ token: String) -> TokenExpectation {
        switch token {
        case "tok_visa", "tok_flaky": TokenExpectation(finalStatus: "SUCCESSFUL", errorCode: nil, resultStatuses: ["SUCCESSFUL"])
        case "tok_pending": TokenExpectation(finalStatus: "SUCCESSFUL", errorCode: nil, resultStatuses: ["PENDING", "SUCCESSFUL"])
        case "tok_chargeDeclined": TokenExpectation(finalStatus: "FAILED", errorCode: "card_declined", resultStatuses: ["FAILED"])
        case "tok_insufficientFunds": TokenExpectation(finalStatus: "FAILED", errorCode: "insufficient_funds", resultStatuses: ["FAILED"])
        default: TokenExpectation(finalStatus: "FAILED", errorCode: "invalid_payment_method", resultStatuses: ["FAILED"])
        }
    }
}

/// Weighted payment-method tokens, e.g. `tok_visa=70,tok_pending=10,tok_chargeDeclined=20`.
/// Order `i` gets a token by a deterministic walk over the weights, so the mix is exact over
/// every block of `totalWeight` orders and a run is reproducible.
struct TokenMix: ExpressibleByArgument, Sendable, CustomStringConvertible {
    private(set) var weights: [(token: String, weight: Int)]
    private var slots: [String]

    static let everyToken = TokenMix(weights: [("tok_visa", 1), ("tok_chargeDeclined", 1), ("tok_insufficientFunds", 1),
                                               ("tok_pending", 1), ("tok_flaky", 1), ("tok_unknown", 1)])

    init(weights: [(token: String, weight: Int)]) {
        self.weights = weights
        slots = weights.flatMap { Array(repeating: $0.token, count: $0.weight) }
    }

    init?(argument: String) {
        var parsed: [(String, Int)] = []
        for item in argument.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            let weight = parts.count == 2 ? Int(parts[1]) : 1
            guard let weight, weight > 0, weight <= 1000, let token = parts.first, !token.isEmpty else { return nil }
            parsed.append((String(token), weight))
        }
        guard !parsed.isEmpty else { return nil }
        self.init(weights: parsed)
    }

    func token(for index: Int) -> String { slots[index % slots.count] }

    var description: String { weights.map { "\($0.token)=\($0.weight)" }.joined(separator: ",") }
}
