import Crypto

/// A dead letter's content, bounded: what goes to `psp-result-updates.dlq` for a record (or a
/// whole batch) a consumer cannot process. The original key, value and headers are kept when
/// they are small; beyond `limit` bytes the value and key are cut to `limit` and the original
/// headers dropped, so that every dead letter fits the store's batch limit however large the
/// poison was (a ~16 MiB record included). The SHA-256 and length of the whole original value
/// always go with it, so the cut value can still be matched to its source. Pure, no I/O.
public struct DeadLetter: Sendable, Hashable {
    public struct Header: Sendable, Hashable {
        public var key: String
        public var value: [UInt8]?
        public init(key: String, value: [UInt8]?) {
            self.key = key
            self.value = value
        }
    }

    /// Where the dead letter came from: one record (`firstOffset == lastOffset`) or a batch.
    public struct Source: Sendable, Hashable {
        public var topic: String
        public var partition: Int32
        public var firstOffset: Int64
        public var lastOffset: Int64
        public init(topic: String, partition: Int32, firstOffset: Int64, lastOffset: Int64) {
            self.topic = topic
            self.partition = partition
            self.firstOffset = firstOffset
            self.lastOffset = lastOffset
        }
    }

    /// The default bound of a dead letter's value (and key): 64 KiB.
    public static let defaultLimit = 64 << 10
    /// Limits accepted by configuration: large enough to keep ordinary records whole, small
    /// enough that a full consumer batch of dead letters stays far below the batch limit.
    public static let allowedLimits = 1024...(1 << 20)
    /// Reasons are error messages; a bound keeps a pathological one from growing each header.
    static let reasonLimit = 1024

    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [Header]
    public var truncated: Bool

    /// `value`: the original record value, or for an undecodable batch the batch's bytes.
    public init(key: [UInt8]?, value: [UInt8]?, originalHeaders: [Header], reason: String, source: Source,
                limit: Int = DeadLetter.defaultLimit) {
        let limit = max(Self.allowedLimits.lowerBound, limit)
        let original = value ?? []
        let originalHeaderBytes = originalHeaders.reduce(0) { $0 + $1.key.utf8.count + ($1.value?.count ?? 0) }
        let cutValue = original.count > limit
        let cutKey = (key?.count ?? 0) > limit
        let dropHeaders = originalHeaderBytes > limit
        truncated = cutValue || cutKey || dropHeaders
        self.key = cutKey ? key.map { Array($0.prefix(limit)) } : key
        self.value = cutValue ? Array(original.prefix(limit)) : value
        var headers = dropHeaders ? [] : originalHeaders
        func add(_ name: String, _ text: String) { headers.append(Header(key: name, value: Array(text.utf8))) }
        add(DeadLetterHeaders.reason, String(reason.prefix(Self.reasonLimit)))
        add(DeadLetterHeaders.sourceTopic, source.topic)
        add(DeadLetterHeaders.sourcePartition, String(source.partition))
        add(DeadLetterHeaders.sourceOffset, String(source.firstOffset))
        add(DeadLetterHeaders.sourceLastOffset, String(source.lastOffset))
        add(DeadLetterHeaders.valueLength, String(original.count))
        add(DeadLetterHeaders.valueSha256, Self.hex(SHA256.hash(data: original)))
        if truncated {
            add(DeadLetterHeaders.truncated, [cutValue ? "value" : nil, cutKey ? "key" : nil, dropHeaders ? "headers" : nil]
                .compactMap { $0 }.joined(separator: ","))
        }
        self.headers = headers
    }

    /// An upper bound of the encoded record's size, for chunking dead letters into batches.
    public var estimatedBytes: Int {
        64 + (key?.count ?? 0) + (value?.count ?? 0) + headers.reduce(0) { $0 + 8 + $1.key.utf8.count + ($1.value?.count ?? 0) }
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
