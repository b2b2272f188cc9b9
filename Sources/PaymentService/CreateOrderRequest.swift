import Foundation

/// The body of `POST /v1/payment-orders`, validated as the contract says.
public struct CreateOrderRequest: Codable, Sendable, Hashable {
    public var merchantId: String
    public var amount: Int64
    public var currency: String
    public var paymentMethod: String
    public var psp: String

    public static let supportedPSPs: Set<String> = ["stripe", "adyen"]

    public struct ValidationError: Error, Sendable, Hashable {
        public var code: String
        public var message: String
    }

    public static func parse(_ body: [UInt8]) throws(ValidationError) -> CreateOrderRequest {
        let object: [String: JSONObjectReader.Value]
        do {
            object = try JSONObjectReader.members(of: body)
        } catch {
            throw ValidationError(code: "invalid_json", message: "the body must be a JSON object: \(error)")
        }
        func string(_ field: String) throws(ValidationError) -> String {
            // Counting Characters walks grapheme clusters; at most 255 UTF-8 bytes is at most
            // 255 Characters, so only longer values are counted.
            guard case .string(let value) = object[field], !value.isEmpty, value.utf8.count <= 255 || value.count <= 255 else {
                throw ValidationError(code: "invalid_\(field)", message: "\(field) must be a string of 1 to 255 characters")
            }
            return value
        }
        let merchantId = try string("merchantId")
        guard case .integer(let amount) = object["amount"], amount > 0 else {
            throw ValidationError(code: "invalid_amount", message: "amount must be an integer number of minor units greater than 0")
        }
        let currency = try string("currency")
        guard currency.utf8.count == 3, currency.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            throw ValidationError(code: "invalid_currency", message: "currency must be 3 upper-case letters (ISO 4217)")
        }
        let paymentMethod = try string("paymentMethod")
        let psp = try string("psp")
        guard supportedPSPs.contains(psp) else {
            throw ValidationError(code: "invalid_psp", message: "psp must be one of \(supportedPSPs.sorted().joined(separator: ", "))")
        }
        return CreateOrderRequest(merchantId: merchantId, amount: amount, currency: currency, paymentMethod: paymentMethod, psp: psp)
    }
}
