import Logging
import Metrics
import NIOCore
import Protocol
import Telemetry

/// SaslHandshake and SaslAuthenticate: the connection's `SaslServerSession` decides, the
/// credentials come from the store, and a refusal is answered and then the connection closed.
extension KafkaBroker {
    func saslHandshake(_ request: SaslHandshakeRequest, header: KafkaRequestHeader, session: inout KafkaSession,
                       logger: Logger) -> Reply {
        guard var sasl = session.sasl else {
            // A listener without SASL: Kafka answers ILLEGAL_SASL_STATE.
            countRequest(.saslHandshake, error: .illegalSaslState)
            return finish(SaslHandshakeResponse(errorCode: KafkaErrorCode.illegalSaslState.rawValue, mechanisms: []),
                          header: header, close: "SaslHandshake on a listener without SASL")
        }
        let answer = sasl.handshake(request, version: header.apiVersion)
        session.sasl = sasl
        countRequest(.saslHandshake, error: KafkaErrorCode(rawValue: answer.response.errorCode) ?? .unknownServerError)
        if let outcome = answer.outcome { record(outcome, session: session, logger: logger) }
        return finish(answer.response, header: header, close: answer.close ? "SASL handshake refused" : nil)
    }

    func saslAuthenticate(_ request: SaslAuthenticateRequest, header: KafkaRequestHeader, session: inout KafkaSession,
                          logger: Logger) -> Reply {
        guard var sasl = session.sasl else {
            countRequest(.saslAuthenticate, error: .illegalSaslState)
            return finish(SaslAuthenticateResponse(errorCode: KafkaErrorCode.illegalSaslState.rawValue,
                                                   errorMessage: "this listener does not use SASL"),
                          header: header, close: "SaslAuthenticate on a listener without SASL")
        }
        let store = self.store
        let answer = sasl.authenticate(request) { SaslCredentialStore.credentials(of: $0, in: store) }
        session.sasl = sasl
        countRequest(.saslAuthenticate, error: KafkaErrorCode(rawValue: answer.response.errorCode) ?? .unknownServerError)
        if let outcome = answer.outcome {
            if case .authenticated(let principal, _) = outcome { session.principal = principal }
            record(outcome, session: session, logger: logger)
        }
        return finish(answer.response, header: header, close: answer.close ? "SASL authentication failed" : nil)
    }

    private func finish(_ response: some KafkaResponseBody, header: KafkaRequestHeader, close reason: String?) -> Reply {
        let version = header.apiVersion
        let reply = Self.reply(to: header) { response.encode(into: &$0, version: version) }
        guard let reason, case .respond(let frame) = reply else { return reply }
        return .respondThenClose(frame, reason)
    }

    private func record(_ outcome: SaslServerSession.Outcome, session: KafkaSession, logger: Logger) {
        switch outcome {
        case .authenticated(let principal, let mechanism):
            Counter(label: "paynode_kafka_authentications_total",
                    dimensions: [("mechanism", mechanism.rawValue), ("result", "success")]).increment()
            logger.info("SASL authentication succeeded", metadata: ["principal": "\(principal)", "mechanism": "\(mechanism)"])
        case .failed(let mechanism, let failure):
            let result = failure.badCredentials ? "bad_credentials" : "refused"
            Counter(label: "paynode_kafka_authentications_total",
                    dimensions: [("mechanism", mechanism?.rawValue ?? "unsupported"), ("result", result)]).increment()
            rejections.warning(key: "sasl-\(result)", "SASL authentication failed",
                               metadata: ["principal": "\(session.principal)", "mechanism": "\(mechanism?.rawValue ?? "-")",
                                          "reason": "\(failure.reason)"], logger: logger)
        }
    }
}
