/// PLAIN (RFC 4616) on the server: one message, `[authzid] NUL authcid NUL passwd`. The
/// password is checked against the user's stored SCRAM credential by recomputing StoredKey, so
/// no password is ever stored; an unknown user's check runs the same Hi() over a fake salt.
public enum PlainServer {
    /// RFC 4616: each of the three parts is at most 255 octets.
    static let maximumPartLength = 255

    /// The authenticated user name, or why not. `credential` returns the user's stored
    /// credential (any SCRAM hash), nil when there is none.
    public static func authenticate(_ token: [UInt8], fakeSaltKey: [UInt8],
                                    credential: (String) -> ScramCredential?) -> Result<String, SaslFailure> {
        let parts = token.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(SaslFailure("PLAIN message does not have three NUL-separated parts")) }
        guard parts.allSatisfy({ $0.count <= maximumPartLength }) else { return .failure(SaslFailure("PLAIN message part is too long")) }
        guard let authorizationId = String(validating: parts[0], as: UTF8.self),
              let username = String(validating: parts[1], as: UTF8.self), !username.isEmpty, !parts[2].isEmpty else {
            return .failure(SaslFailure("PLAIN message has an empty or non-UTF-8 user name or password"))
        }
        guard authorizationId.isEmpty || authorizationId == username else {
            return .failure(SaslFailure("PLAIN authorization id differs from the user name"))
        }
        let stored = credential(username)
        let checked = stored ?? ScramCredential(hash: .sha512, salt: ScramHash.sha256.hmac(key: fakeSaltKey, Array("salt:\(username)".utf8)),
                                                iterations: ScramCredential.defaultIterations,
                                                storedKey: ScramHash.sha512.hmac(key: fakeSaltKey, Array("stored-key:\(username)".utf8)),
                                                serverKey: [])
        let matches = checked.verifies(password: Array(parts[2]))
        guard matches, stored != nil else {
            return .failure(SaslFailure(stored == nil ? "unknown user \(username)" : "wrong password for \(username)", badCredentials: true))
        }
        return .success(username)
    }
}
