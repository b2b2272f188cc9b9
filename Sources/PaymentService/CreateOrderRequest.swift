import Foundation

/// The body of `POST /v1/payment-orders`, validated as the contract says.
public struct CreateOrderRequest: Codable, Sendable, Hashable {
    public var merchantId: String
    public var amount: Int64
    public var currency: String
    public var paymentMethod: String
    public var psp: String

    public static let supportedPSPs: Set<String> = ["stripe", "adyen"]

    public typealias ValidationError = PaymentRequestError

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
        // A raw card number (PAN) must never be stored, published or logged: the API takes PSP
        // tokens only. The message does not repeat the value.
        guard !looksLikeCardNumber(paymentMethod) else {
            throw ValidationError(code: "card_number_not_accepted",
                                  message: "paymentMethod looks like a card number; send a PSP token (such as tok_visa), never a card number")
        }
        let psp = try string("psp")
        guard supportedPSPs.contains(psp) else {
            throw ValidationError(code: "invalid_psp", message: "psp must be one of \(supportedPSPs.sorted().joined(separator: ", "))")
        }
        return CreateOrderRequest(merchantId: merchantId, amount: amount, currency: currency, paymentMethod: paymentMethod, psp: psp)
    }

    /// Whether `value` is a card number: 13 to 19 digits, optionally in groups separated by one
    /// space or dash, that pass the Luhn check. Surrounding whitespace is ignored, so a padded
    /// number is caught too. Digits that fail Luhn (order numbers, phone numbers) are let through:
    /// they are not card numbers and a PSP will refuse them as an unknown token.
    public static func looksLikeCardNumber(_ value: String) -> Bool {
        var digits: [UInt8] = []
        digits.reserveCapacity(19)
        var previousWasSeparator = false
        let bytes = value.utf8.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        var trimmed = Array(bytes)
        while let last = trimmed.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { trimmed.removeLast() }
        guard let first = trimmed.first, let last = trimmed.last,
              (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(last) else {
            return false
        }
        for byte in trimmed {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard digits.count < 19 else { return false }
                digits.append(byte - UInt8(ascii: "0"))
                previousWasSeparator = false
            case UInt8(ascii: " "), UInt8(ascii: "-"):
                // Between digit groups only: "4111  1111" or "4111- 1111" is not a grouping.
                guard !previousWasSeparator else { return false }
                previousWasSeparator = true
            default:
                return false
            }
        }
        return digits.count >= 13 && luhnValid(digits)
    }

    /// The Luhn (mod 10) check over decimal digits, most significant first.
    static func luhnValid(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (position, digit) in digits.reversed().enumerated() {
            var value = Int(digit)
            if position % 2 == 1 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return sum % 10 == 0
    }
}
