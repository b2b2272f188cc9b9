import LogStore
import Protocol

/// An ACL binding as a key of the `broker.acls` table: the binding is the key (so the same
/// binding is stored once) and the value is empty. Layout: resource type, pattern type,
/// operation, permission (one byte each, Kafka's codes), then resource name, principal and host,
/// each a big-endian UInt16 length and UTF-8 bytes.
package enum StoredAcl {
    package static let table = "broker.acls"
    /// Every binding is checked on every authorization, so their number is bounded.
    static let maximumCount = 10_000

    /// Stores the bindings not stored yet and returns them (each once), or throws
    /// `.invalidArgument` and stores none when they would take the table past `maximumCount`.
    package static func add(_ bindings: [AclBinding], in transaction: WriteTransaction) throws -> [AclBinding] {
        let stored = try transaction.table(table)
        var fresh: [AclBinding] = []
        var seen = Set<AclBinding>()
        // Stops looking once too many are new: a request's creations are the client's to count.
        for binding in bindings where fresh.count <= maximumCount && seen.insert(binding).inserted {
            if try stored.get(key(binding)) == nil { fresh.append(binding) }
        }
        guard try stored.count() + fresh.count <= maximumCount else {
            throw LogStoreError(.invalidArgument, "a node holds at most \(maximumCount) ACLs")
        }
        for binding in fresh { try stored.put(key(binding), []) }
        return fresh
    }

    package static func key(_ binding: AclBinding) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(bitPattern: binding.resourceType.rawValue), UInt8(bitPattern: binding.patternType.rawValue),
                              UInt8(bitPattern: binding.operation.rawValue), UInt8(bitPattern: binding.permission.rawValue)]
        for text in [binding.resourceName, binding.principal, binding.host] {
            let utf8 = Array(text.utf8.prefix(Int(UInt16.max)))
            bytes.append(UInt8(utf8.count >> 8))
            bytes.append(UInt8(utf8.count & 0xFF))
            bytes.append(contentsOf: utf8)
        }
        return bytes
    }

    /// The binding a stored key holds, or nil when the bytes are not one (read back from disk:
    /// checked like any other input).
    static func binding(_ key: some Collection<UInt8>) -> AclBinding? {
        let bytes = Array(key)
        guard bytes.count >= 4,
              let resourceType = AclResourceType(rawValue: Int8(bitPattern: bytes[0])),
              let patternType = AclPatternType(rawValue: Int8(bitPattern: bytes[1])),
              let operation = AclOperation(rawValue: Int8(bitPattern: bytes[2])),
              let permission = AclPermission(rawValue: Int8(bitPattern: bytes[3])) else { return nil }
        var index = 4
        var texts: [String] = []
        for _ in 0..<3 {
            guard bytes.count - index >= 2 else { return nil }
            let length = Int(bytes[index]) << 8 | Int(bytes[index + 1])
            index += 2
            guard bytes.count - index >= length,
                  let text = String(validating: bytes[index..<index + length], as: UTF8.self) else { return nil }
            texts.append(text)
            index += length
        }
        guard index == bytes.count else { return nil }
        let binding = AclBinding(resourceType: resourceType, resourceName: texts[0], patternType: patternType,
                                 principal: texts[1], host: texts[2], operation: operation, permission: permission)
        return binding.validationError == nil ? binding : nil
    }
}
