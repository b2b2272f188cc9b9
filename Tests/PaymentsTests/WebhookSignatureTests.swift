import Payments
import Testing

/// Webhook signatures against the PSPs' documented schemes and test vectors
/// (../shared/notes/psp-edge.md section 1).
@Suite("Webhook signatures")
struct WebhookSignatureTests {
    let stripeBody = Array(#"{"id":"evt_1","type":"payment_intent.succeeded"}"#.utf8)
    let stripeVector = "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31"

    @Test func stripeTestVector() throws {
        #expect(StripeWebhookVerifier.signature(payload: stripeBody, timestamp: 1_700_000_000, secret: "whsec_test_secret") == stripeVector)
        let verifier = StripeWebhookVerifier(secrets: ["whsec_test_secret"])
        #expect(try verifier.verify(header: "t=1700000000,v1=\(stripeVector)", payload: stripeBody, nowSeconds: 1_700_000_010) == 1_700_000_000)
        // Upper-case hex, a v0 and an unknown scheme beside it, spaces: still verified.
        #expect(throws: Never.self) {
            try verifier.verify(header: "t=1700000000, v0=abc, v1=\(stripeVector.uppercased()), v9=x", payload: stripeBody, nowSeconds: 1_700_000_000)
        }
    }

    @Test func stripeRefusesWrongSecretTamperedBodyAndStaleTimestamp() {
        let header = "t=1700000000,v1=\(stripeVector)"
        #expect(throws: StripeWebhookVerifier.Failure.signatureMismatch) {
            try StripeWebhookVerifier(secrets: ["whsec_other"]).verify(header: header, payload: stripeBody, nowSeconds: 1_700_000_000)
        }
        var tampered = stripeBody
        tampered[8] = UInt8(ascii: "2")
        #expect(throws: StripeWebhookVerifier.Failure.signatureMismatch) {
            try StripeWebhookVerifier(secrets: ["whsec_test_secret"]).verify(header: header, payload: tampered, nowSeconds: 1_700_000_000)
        }
        // 300 s old is accepted, 301 s is not; a timestamp ahead of the clock is (as stripe-python).
        let verifier = StripeWebhookVerifier(secrets: ["whsec_test_secret"])
        #expect(throws: Never.self) { try verifier.verify(header: header, payload: stripeBody, nowSeconds: 1_700_000_300) }
        #expect(throws: StripeWebhookVerifier.Failure.timestampOutsideTolerance(timestamp: 1_700_000_000)) {
            try verifier.verify(header: header, payload: stripeBody, nowSeconds: 1_700_000_301)
        }
        #expect(throws: Never.self) { try verifier.verify(header: header, payload: stripeBody, nowSeconds: 1_699_999_000) }
    }

    @Test func stripeRotationAcceptsEitherSecretAndAnyV1() throws {
        let old = StripeWebhookVerifier.signature(payload: stripeBody, timestamp: 1_700_000_000, secret: "whsec_old")
        let new = StripeWebhookVerifier.signature(payload: stripeBody, timestamp: 1_700_000_000, secret: "whsec_new")
        // Stripe signs with both secrets while one rolls: two v1 values.
        let both = "t=1700000000,v1=\(new),v1=\(old)"
        #expect(throws: Never.self) { try StripeWebhookVerifier(secrets: ["whsec_old"]).verify(header: both, payload: stripeBody, nowSeconds: 1_700_000_000) }
        // We roll ours: the endpoint keeps the old secret beside the new one.
        #expect(throws: Never.self) {
            try StripeWebhookVerifier(secrets: ["whsec_new", "whsec_old"]).verify(header: "t=1700000000,v1=\(old)", payload: stripeBody, nowSeconds: 1_700_000_000)
        }
    }

    @Test func stripeMalformedHeadersAreRefusedNotTrapped() {
        let verifier = StripeWebhookVerifier(secrets: ["whsec_test_secret"])
        for header in ["", "t=", "v1=\(stripeVector)", "t=abc,v1=\(stripeVector)", "t=-5,v1=ab", "t=1,t=2,v1=ab", "garbage",
                       "t=99999999999999999999,v1=ab", String(repeating: "v1=ab,", count: 100) + "t=1"] {
            #expect(throws: StripeWebhookVerifier.Failure.self, "\(header.prefix(40))") {
                try verifier.verify(header: header, payload: stripeBody, nowSeconds: 1_700_000_000)
            }
        }
        #expect(throws: StripeWebhookVerifier.Failure.noSignature) {
            try verifier.verify(header: "t=1700000000,v0=\(stripeVector)", payload: stripeBody, nowSeconds: 1_700_000_000)
        }
        // A timestamp near Int64.max against a clock near Int64.min overflows the age: refused.
        #expect(throws: StripeWebhookVerifier.Failure.self) {
            try verifier.verify(header: "t=\(Int64.max),v1=\(stripeVector)", payload: stripeBody, nowSeconds: Int64.min)
        }
    }

    let adyenKey = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"
    let adyenItem = AdyenWebhookVerifier.Item(pspReference: "pspReference", originalReference: "originalReference",
                                              merchantAccountCode: "merchantAccount", merchantReference: "reference",
                                              value: "1000", currency: "EUR", eventCode: "EVENT", success: "true")

    @Test func adyenOfficialTestVector() throws {
        #expect(adyenItem.signingString == "pspReference:originalReference:merchantAccount:reference:1000:EUR:EVENT:true")
        #expect(AdyenWebhookVerifier.signature(of: adyenItem, hexKey: adyenKey) == "ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc=")
        #expect(throws: Never.self) {
            try AdyenWebhookVerifier(hexKeys: [adyenKey]).verify(adyenItem, signature: "ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc=")
        }
        #expect(adyenItem.eventID == "pspReference:EVENT:true")
    }

    @Test func adyenRefusesTamperedItemsWrongKeysAndMissingSignatures() throws {
        let signature = "ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="
        let verifier = try AdyenWebhookVerifier(hexKeys: [adyenKey])
        var refused = adyenItem
        refused.success = "false"
        #expect(throws: AdyenWebhookVerifier.Failure.signatureMismatch) { try verifier.verify(refused, signature: signature) }
        var otherAmount = adyenItem
        otherAmount.value = "100000"
        #expect(throws: AdyenWebhookVerifier.Failure.signatureMismatch) { try verifier.verify(otherAmount, signature: signature) }
        #expect(throws: AdyenWebhookVerifier.Failure.missingSignature) { try verifier.verify(adyenItem, signature: nil) }
        #expect(throws: AdyenWebhookVerifier.Failure.missingSignature) { try verifier.verify(adyenItem, signature: "%%%not base64") }
        let otherKey = String(repeating: "AB", count: 32)
        #expect(throws: AdyenWebhookVerifier.Failure.signatureMismatch) {
            try AdyenWebhookVerifier(hexKeys: [otherKey]).verify(adyenItem, signature: signature)
        }
        // During a rotation both keys verify.
        #expect(throws: Never.self) { try AdyenWebhookVerifier(hexKeys: [otherKey, adyenKey]).verify(adyenItem, signature: signature) }
        #expect(throws: AdyenWebhookVerifier.Failure.invalidKey) { try AdyenWebhookVerifier(hexKeys: ["not hex"]) }
        #expect(throws: AdyenWebhookVerifier.Failure.invalidKey) { try AdyenWebhookVerifier(hexKeys: []) }
    }
}
