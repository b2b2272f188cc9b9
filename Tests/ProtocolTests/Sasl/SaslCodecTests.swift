import NIOCore
import Protocol
import Testing

/// SaslHandshake and SaslAuthenticate bodies against kafka-python 3.0.12's encoding of Kafka's
/// message definitions (SaslHandshakeRequest.json etc.), byte for byte.
@Suite struct SaslCodecTests {
    @Test(arguments: [Int16(0), 1])
    func handshakeMatchesKafka(_ version: Int16) throws {
        let request = SaslHandshakeRequest(mechanism: "SCRAM-SHA-512")
        #expect(hex { request.encode(into: &$0, version: version) } == "000d534352414d2d5348412d353132")
        let response = SaslHandshakeResponse(errorCode: 33, mechanisms: ["SCRAM-SHA-256", "PLAIN"])
        #expect(hex { response.encode(into: &$0, version: version) } == "002100000002000d534352414d2d5348412d3235360005504c41494e")
        var bytes = buffer(hex: "000d534352414d2d5348412d353132")
        #expect(try SaslHandshakeRequest.decode(from: &bytes, version: version) == request)
        bytes = buffer(hex: "002100000002000d534352414d2d5348412d3235360005504c41494e")
        #expect(try SaslHandshakeResponse.decode(from: &bytes, version: version) == response)
    }

    @Test func authenticateMatchesKafka() throws {
        let request = SaslAuthenticateRequest(authBytes: Array("n,,n=user,r=abc".utf8))
        for version: Int16 in 0...1 {
            #expect(hex { request.encode(into: &$0, version: version) } == "0000000f6e2c2c6e3d757365722c723d616263")
            var bytes = buffer(hex: "0000000f6e2c2c6e3d757365722c723d616263")
            #expect(try SaslAuthenticateRequest.decode(from: &bytes, version: version) == request)
        }
        let response = SaslAuthenticateResponse(errorCode: 58, errorMessage: "bad", authBytes: Array("v=xy".utf8), sessionLifetimeMs: 3_600_000)
        #expect(hex { response.encode(into: &$0, version: 0) } == "003a000362616400000004763d7879")
        #expect(hex { response.encode(into: &$0, version: 1) } == "003a000362616400000004763d7879000000000036ee80")
        var v1 = buffer(hex: "003a000362616400000004763d7879000000000036ee80")
        #expect(try SaslAuthenticateResponse.decode(from: &v1, version: 1) == response)
        var v0 = buffer(hex: "003a000362616400000004763d7879")
        #expect(try SaslAuthenticateResponse.decode(from: &v0, version: 0).sessionLifetimeMs == 0)
    }

    /// v2, the flexible version Java clients send: compact bytes and strings, tagged fields.
    @Test func flexibleAuthenticateMatchesKafka() throws {
        let request = SaslAuthenticateRequest(authBytes: Array("n,,n=user,r=abc".utf8))
        #expect(hex { request.encode(into: &$0, version: 2) } == "106e2c2c6e3d757365722c723d61626300")
        var bytes = buffer(hex: "106e2c2c6e3d757365722c723d61626300")
        #expect(try SaslAuthenticateRequest.decode(from: &bytes, version: 2) == request)
        #expect(bytes.readableBytes == 0)
        let response = SaslAuthenticateResponse(errorCode: 58, errorMessage: "bad", authBytes: Array("v=xy".utf8), sessionLifetimeMs: 3_600_000)
        #expect(hex { response.encode(into: &$0, version: 2) } == "003a0462616405763d7879000000000036ee8000")
        var answer = buffer(hex: "003a0462616405763d7879000000000036ee8000")
        #expect(try SaslAuthenticateResponse.decode(from: &answer, version: 2) == response)
        let success = SaslAuthenticateResponse(errorCode: 0)
        #expect(hex { success.encode(into: &$0, version: 2) } == "00000001000000000000000000")
        var nullMessage = buffer(hex: "00000001000000000000000000")
        #expect(try SaslAuthenticateResponse.decode(from: &nullMessage, version: 2) == success)
        // A tagged field the broker does not know is skipped, as Kafka's rule says.
        var tagged = buffer(hex: "106e2c2c6e3d757365722c723d616263" + "01" + "05" + "02" + "abcd")
        #expect(try SaslAuthenticateRequest.decode(from: &tagged, version: 2) == request)
    }

    /// Request header v2 (flexible requests) against kafka-python's `encode(header=True)`.
    @Test func flexibleRequestHeaderMatchesKafka() throws {
        let header = KafkaRequestHeader(apiKey: 36, apiVersion: 2, correlationId: 7, clientId: "kp")
        #expect(header.isFlexible && header.hasFlexibleResponseHeader)
        #expect(hex { header.encode(into: &$0) } == "002400020000000700026b7000")
        var bytes = buffer(hex: "002400020000000700026b7000" + "106e2c2c6e3d757365722c723d61626300")
        #expect(try KafkaRequestHeader.decode(from: &bytes) == header)
        #expect(try SaslAuthenticateRequest.decode(from: &bytes, version: 2).authBytes == Array("n,,n=user,r=abc".utf8))
        // v1 stays header v1, and ApiVersions answers with header v0 whatever its version.
        #expect(!KafkaRequestHeader(apiKey: 36, apiVersion: 1, correlationId: 7, clientId: nil).isFlexible)
        let probe = KafkaRequestHeader(apiKey: 18, apiVersion: 3, correlationId: 1, clientId: nil)
        #expect(probe.isFlexible && !probe.hasFlexibleResponseHeader)
        let flexibleFrame = try KafkaResponseFrame.encode(correlationId: 7, flexibleHeader: true) { $0.writeInteger(UInt8(9)) }
        #expect(Array(flexibleFrame.readableBytesView) == [0, 0, 0, 6, 0, 0, 0, 7, 0, 9])
    }

    @Test func truncatedOrFlexibleVersionsThrow() {
        let full: [UInt8] = [0x00, 0x00, 0x00, 0x0f] + Array("n,,n=user,r=abc".utf8)
        for length in 0..<full.count {
            var prefix = ByteBuffer(bytes: full.prefix(length))
            #expect(throws: KafkaCodecError.self) { try SaslAuthenticateRequest.decode(from: &prefix, version: 1) }
        }
        // A forged 2 GiB length is refused, not allocated.
        var forged = ByteBuffer(bytes: [0x7f, 0xff, 0xff, 0xff, 0x41])
        #expect(throws: KafkaCodecError.self) { try SaslAuthenticateRequest.decode(from: &forged, version: 1) }
        var unsupported = ByteBuffer(bytes: full)
        #expect(throws: KafkaCodecError.self) { try SaslAuthenticateRequest.decode(from: &unsupported, version: 3) }
        // Compact lengths and tagged fields that run past the frame, tags out of order, and a
        // varint longer than 32 bits are refused.
        for hostile in ["7f41", "0541", "01" + "02" + "0100" + "0100", "01" + "01" + "0009" + "00", "0141",
                        "ffffffff0f", "ffffffff7f"] {
            var bytes = buffer(hex: hostile)
            #expect(throws: KafkaCodecError.self) { try SaslAuthenticateRequest.decode(from: &bytes, version: 2) }
        }
        var handshake = ByteBuffer(bytes: [0x00, 0x05, 0x50])
        #expect(throws: KafkaCodecError.self) { try SaslHandshakeRequest.decode(from: &handshake, version: 1) }
    }

    @Test func advertisedVersions() {
        #expect(KafkaAPIKey.saslHandshake.rawValue == 17 && KafkaAPIKey.saslHandshake.supportedVersions == 0...1)
        #expect(KafkaAPIKey.saslAuthenticate.rawValue == 36 && KafkaAPIKey.saslAuthenticate.supportedVersions == 0...2)
        #expect(KafkaAPIKey.saslAuthenticate.firstFlexibleVersion == 2 && KafkaAPIKey.saslHandshake.firstFlexibleVersion == nil)
        #expect(KafkaErrorCode.unsupportedSaslMechanism.rawValue == 33)
        #expect(KafkaErrorCode.illegalSaslState.rawValue == 34)
        #expect(KafkaErrorCode.saslAuthenticationFailed.rawValue == 58)
    }
}

