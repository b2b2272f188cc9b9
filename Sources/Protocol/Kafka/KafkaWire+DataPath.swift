import NIOCore

// Helpers shared by the data-path codecs (ApiVersions, Metadata, Produce, Fetch, ListOffsets).
// Names carry a "DataPath" marker so they cannot collide with helpers other codec files add.

extension KafkaAPIKey {
    /// Throws `.unsupportedVersion` unless `version` is in `supportedVersions`.
    func requireDataPathVersion(_ version: Int16) throws(KafkaCodecError) {
        guard supportedVersions.contains(version) else {
            throw KafkaCodecError(.unsupportedVersion, "\(self) v\(version) is outside \(supportedVersions)")
        }
    }
}

extension ByteBuffer {
    /// `[]int32`: INT32 count then big-endian INT32s; null reads as empty.
    mutating func readDataPathInt32Array(_ field: StaticString) throws(KafkaCodecError) -> [Int32] {
        try readKafkaArray(field, minimumElementSize: 4) { (buffer: inout ByteBuffer) throws(KafkaCodecError) -> Int32 in
            try buffer.readKafkaInteger(field, as: Int32.self)
        }
    }

    mutating func writeDataPathInt32Array(_ values: [Int32]) {
        writeKafkaArray(values) { buffer, value in buffer.writeKafkaInteger(value) }
    }
}
