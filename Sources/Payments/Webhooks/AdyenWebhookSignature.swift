import Crypto
import Foundation

/// Adyen's HMAC signature of a standard webhook's `NotificationRequestItem` (docs.adyen.com,
/// "Verify HMAC signatures"; computed as adyen-java-api-library's `HMACValidator` does): the eight
/// fields `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:
/// eventCode:success` joined with `:` (a missing field is empty, nothing is escaped),
/// HMAC-SHA256 keyed with the hex-decoded HMAC key, Base64; carried in
/// `additionalData.hmacSignature`. Every item of a batch is verified on its own. Several keys
/// verify during a key rotation.
public struct AdyenWebhookVerifier: Sendable {
    /// The signed fields of one notification item, as strings exactly as received.
    public struct Item: Sendable, Hashable {
        public var pspReference: String
        public var originalReference: String
        public var merchantAccountCode: String
        public var merchantReference: String
        /// `amount.value` in minor units, as its decimal text.
        public var value: String
        public var currency: String
        public var eventCode: String
        /// The string "true" or "false".
        public var success: String

        public init(pspReference: String, originalReference: String = "", merchantAccountCode: String, merchantReference: String,
                    value: String, currency: String, eventCode: String, success: String) {
            self.pspReference = pspReference
            self.originalReference = originalReference
            self.merchantAccountCode = merchantAccountCode
            self.merchantReference = merchantReference
            self.value = value
            self.currency = currency
            self.eventCode = eventCode
            self.success = success
        }

        /// The string Adyen signs.
        public var signingString: String {
            [pspReference, originalReference, merchantAccountCode, merchantReference, value, currency, eventCode, success]
                .joined(separator: ":")
        }

        /// The id a redelivery of this notification repeats: Adyen has no event id, and
        /// `pspReference`, `eventCode` and `success` together name one outcome (psp-edge.md).
        public var eventID: String { "\(pspReference):\(eventCode):\(success)" }
    }

    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// A configured key is not hex (a configuration error, reported at startup).
        case invalidKey
        /// The item carries no `hmacSignature`, or it is not Base64.
        case missingSignature
        /// The signature matches none of the keys.
        case signatureMismatch

        public var description: String {
            switch self {
            case .invalidKey: "an Adyen HMAC key is not hex"
            case .missingSignature: "the notification item has no Base64 hmacSignature"
            case .signatureMismatch: "the notification item's hmacSignature matches none of the HMAC keys"
            }
        }
    }

    private let keys: [SymmetricKey]

    /// `hexKeys`: the merchant's HMAC keys as Adyen shows them (64 hex digits), current first.
    public init(hexKeys: [String]) throws(Failure) {
        var keys: [SymmetricKey] = []
        for hexKey in hexKeys {
            guard let bytes = HexBytes.decode(hexKey), !bytes.isEmpty else { throw .invalidKey }
            keys.append(SymmetricKey(data: bytes))
        }
        guard !keys.isEmpty else { throw .invalidKey }
        self.keys = keys
    }

    /// Verifies `item` against its `hmacSignature` (Base64) in constant time per key.
    public func verify(_ item: Item, signature: String?) throws(Failure) {
        guard let signature, let code = Data(base64Encoded: signature) else { throw .missingSignature }
        let signed = Array(item.signingString.utf8)
        for key in keys where HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: signed, using: key) {
            return
        }
        throw .signatureMismatch
    }

    /// The Base64 signature of `item` with the hex key `hexKey`: what Adyen sends; for tests and
    /// for a local fake's webhooks. nil if the key is not hex.
    public static func signature(of item: Item, hexKey: String) -> String? {
        guard let bytes = HexBytes.decode(hexKey), !bytes.isEmpty else { return nil }
        let code = HMAC<SHA256>.authenticationCode(for: Array(item.signingString.utf8), using: SymmetricKey(data: bytes))
        return Data(code).base64EncodedString()
    }
}
