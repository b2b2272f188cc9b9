import NIOCore
import PaynodeTestSupport
import Protocol
import Testing

/// Byte-for-byte agreement with kafka-python 3.0.12 (golden/make_golden.py) for every
/// version paynode supports, requests and responses.
@Suite struct KafkaDataPathGoldenTests {
    @Test(arguments: DataPathCase.all)
    func kafkaPythonBytesDecodeAndReencode(_ codec: DataPathCase) throws {
        #expect(Set(codec.golden.keys) == Set(codec.versions), "golden covers every supported version")
        for version in codec.versions {
            let golden = buffer(hex: try #require(codec.golden[version]))
            let (matches, left) = try codec.decodeMatches(golden, version)
            #expect(matches, "\(codec) v\(version): decoded value differs from the sample")
            #expect(left == 0, "\(codec) v\(version): \(left) bytes left over")
            #expect(codec.encodeSample(version).allReadableBytes == golden.allReadableBytes,
                    "\(codec) v\(version): our bytes differ from kafka-python's")
        }
    }

    @Test(arguments: DataPathCase.all)
    func roundTripEveryVersion(_ codec: DataPathCase) throws {
        for version in codec.versions {
            #expect(try codec.roundTrips(version), "\(codec) v\(version)")
        }
    }
}

@Suite struct KafkaDataPathCodecTests {
    static func roundTrip<T: KafkaRequestBody & Equatable>(_ value: T, _ version: Int16) throws -> T {
        var out = ByteBuffer()
        value.encode(into: &out, version: version)
        let decoded = try T.decode(from: &out, version: version)
        #expect(out.readableBytes == 0)
        return decoded
    }

    static func roundTrip<T: KafkaResponseBody & Equatable>(_ value: T, _ version: Int16) throws -> T {
        var out = ByteBuffer()
        value.encode(into: &out, version: version)
        let decoded = try T.decode(from: &out, version: version)
        #expect(out.readableBytes == 0)
        return decoded
    }

    @Test func metadataKeepsNullTopicsDistinctFromEmpty() throws {
        for version in Int16(1)...8 {
            #expect(try Self.roundTrip(MetadataRequest(topics: nil), version).topics == nil)
            #expect(try Self.roundTrip(MetadataRequest(topics: []), version).topics == [])
        }
        // v0 has no null: "all topics" is the empty array, both ways.
        var out = ByteBuffer()
        MetadataRequest(topics: nil).encode(into: &out, version: 0)
        #expect(out.allReadableBytes == [0, 0, 0, 0])
        #expect(try MetadataRequest.decode(from: &out, version: 0).topics == nil)
        // Versions before 4 always allow auto-creation.
        var v3 = buffer(hex: "ffffffff")
        #expect(try MetadataRequest.decode(from: &v3, version: 3).allowAutoTopicCreation)
    }

    @Test func fetchKeepsNullAbortedTransactionsAndRecordsDistinctFromEmpty() throws {
        for version in Int16(4)...11 {
            let partitions: [FetchResponse.PartitionData] = [
                .init(partitionIndex: 0, errorCode: 0, highWatermark: 5, abortedTransactions: nil, records: nil),
                .init(partitionIndex: 1, errorCode: 0, highWatermark: 5, abortedTransactions: [], records: ByteBuffer()),
            ]
            let value = FetchResponse(responses: [.init(topic: "t", partitions: partitions)])
            let decoded = try Self.roundTrip(value, version)
            #expect(decoded == value)
            #expect(decoded.responses[0].partitions[0].abortedTransactions == nil)
            #expect(decoded.responses[0].partitions[1].abortedTransactions == [])
            #expect(decoded.responses[0].partitions[0].records == nil)
            #expect(decoded.responses[0].partitions[1].records == ByteBuffer())
        }
    }

    @Test func producePartitionRecordsAreSlicesOfTheFrame() throws {
        var frame = buffer(hex: try #require(KafkaDataPathGolden.produceRequest[8]))
        let request = try ProduceRequest.decode(from: &frame, version: 8)
        #expect(request.topicData[0].partitionData[0].records == KafkaDataPathSamples.batch)
        #expect(request.topicData[0].partitionData[1].records == nil)
    }

    @Test func apiVersionsListsEveryPaynodeApi() throws {
        let response = ApiVersionsResponse.paynode(errorCode: 0)
        #expect(response.apiKeys.count == KafkaAPIKey.allCases.count)
        for api in KafkaAPIKey.allCases {
            let entry = try #require(response.apiKeys.first { $0.apiKey == api.rawValue })
            #expect(entry.minVersion...entry.maxVersion == api.supportedVersions)
        }
        #expect(response.apiKeys.map(\.apiKey) == response.apiKeys.map(\.apiKey).sorted())
        for version in Int16(0)...4 { #expect(try Self.roundTrip(response, version) == response) }
    }

    @Test func unsupportedVersionFallbackIsTheV0Layout() throws {
        var out = ByteBuffer()
        ApiVersionsResponse.encodeUnsupportedVersionFallback(into: &out)
        let keys = ApiVersionsResponse.paynodeApiKeys
        // INT16 error 35, INT32 count, 6 bytes per entry, nothing else (no throttle, no tags).
        #expect(out.readableBytes == 2 + 4 + 6 * keys.count)
        #expect(out.getInteger(at: out.readerIndex, as: Int16.self) == 35)
        #expect(out.getInteger(at: out.readerIndex + 2, as: Int32.self) == Int32(keys.count))
        var expected = ByteBuffer()
        expected.writeInteger(Int16(35))
        expected.writeInteger(Int32(keys.count))
        for key in keys {
            expected.writeInteger(key.apiKey)
            expected.writeInteger(key.minVersion)
            expected.writeInteger(key.maxVersion)
        }
        #expect(out == expected)
        #expect(keys.contains(.init(apiKey: 18, minVersion: 0, maxVersion: 4)))

        var v0 = out
        let decoded = try ApiVersionsResponse.decode(from: &v0, version: 0)
        #expect(decoded.errorCode == KafkaErrorCode.unsupportedVersion.rawValue)
        #expect(decoded.apiKeys == keys)
        #expect(v0.readableBytes == 0)
        // A client that asked with v1/v2 parses the v0-layout fallback too, like Kafka's own client.
        for version in Int16(1)...4 {
            var copy = out
            #expect(try ApiVersionsResponse.decode(from: &copy, version: version) == decoded)
            #expect(copy.readableBytes == 0)
        }
        // ...but a v0-layout body with any other error is still a truncated v1/v2 body.
        var other = ByteBuffer()
        ApiVersionsResponse.paynode(errorCode: 0).encode(into: &other, version: 0)
        #expect(throws: KafkaCodecError.self) { try ApiVersionsResponse.decode(from: &other, version: 2) }
    }

    @Test func unsupportedVersionsAreRejected() throws {
        let outside: [(KafkaAPIKey, Int16)] = [(.apiVersions, 5), (.metadata, 9), (.produce, 2), (.produce, 9),
                                               (.fetch, 3), (.fetch, 12), (.listOffsets, 0), (.listOffsets, 6), (.metadata, -1)]
        for (api, version) in outside {
            var bytes = ByteBuffer(repeating: 0, count: 64)
            let error = #expect(throws: KafkaCodecError.self, "\(api) v\(version)") {
                switch api {
                case .apiVersions: _ = try ApiVersionsRequest.decode(from: &bytes, version: version)
                case .metadata: _ = try MetadataRequest.decode(from: &bytes, version: version)
                case .produce: _ = try ProduceRequest.decode(from: &bytes, version: version)
                case .fetch: _ = try FetchRequest.decode(from: &bytes, version: version)
                default: _ = try ListOffsetsRequest.decode(from: &bytes, version: version)
                }
            }
            #expect(error?.code == .unsupportedVersion)
        }
    }

    @Test func forgedCountsAreRejectedBeforeAllocating() throws {
        // Produce v3: null transactional id, acks, timeout, then a topic count of Int32.max.
        var produce = buffer(hex: "ffff ffff 00007530 7fffffff 0000")
        let error = #expect(throws: KafkaCodecError.self) { try ProduceRequest.decode(from: &produce, version: 3) }
        #expect(error?.code == .truncated)
        // Fetch v11 partition count that would fit 1-byte elements but not 32-byte partitions.
        var fetch = ByteBuffer()
        FetchRequest(maxWaitMs: 1, minBytes: 1, topics: []).encode(into: &fetch, version: 11)
        var forged = ByteBuffer()
        forged.writeBytes(fetch.readableBytesView.prefix(25))  // through session epoch
        forged.writeInteger(Int32(1))
        forged.writeInteger(Int16(1)); forged.writeString("t")
        forged.writeInteger(Int32(2))
        forged.writeBytes([UInt8](repeating: 0, count: 40))
        let fetchError = #expect(throws: KafkaCodecError.self) { try FetchRequest.decode(from: &forged, version: 11) }
        #expect(fetchError?.message.contains("claims 2 elements") == true, "\(String(describing: fetchError))")
        // Negative lengths and counts other than -1 are invalid.
        var negative = buffer(hex: "fffffffe")
        let negativeError = #expect(throws: KafkaCodecError.self) { try MetadataRequest.decode(from: &negative, version: 1) }
        #expect(negativeError?.code == .invalidLength)
    }
}

@Suite struct KafkaDataPathMalformedTests {
    /// Every strict prefix of every golden body (requests and responses, every version) throws.
    @Test(arguments: DataPathCase.all)
    func everyPrefixThrows(_ codec: DataPathCase) throws {
        for version in codec.versions {
            let full = buffer(hex: try #require(codec.golden[version]))
            for length in 0..<full.readableBytes {
                var prefix = try #require(full.getSlice(at: full.readerIndex, length: length))
                #expect(throws: KafkaCodecError.self, "\(codec) v\(version) prefix \(length)") {
                    try codec.decodeOnly(&prefix, version)
                }
            }
        }
    }

    /// Random bytes and randomly corrupted golden bodies: decoding may succeed or throw, never trap.
    @Test(arguments: DataPathCase.all)
    func garbageNeverTraps(_ codec: DataPathCase) throws {
        var random = SeededGenerator(seed: 0xDA7A_9A7E ^ UInt64(codec.name.utf8.count))
        for version in codec.versions {
            let golden = buffer(hex: try #require(codec.golden[version])).allReadableBytes
            for _ in 0..<300 {
                var noise = buffer(random.bytes(Int.random(in: 0...96, using: &random)))
                _ = try? codec.decodeOnly(&noise, version)
                guard !golden.isEmpty else { continue }
                var mutated = golden
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    mutated[Int.random(in: 0..<mutated.count, using: &random)] = UInt8.random(in: .min ... .max, using: &random)
                }
                var corrupted = buffer(mutated)
                _ = try? codec.decodeOnly(&corrupted, version)
            }
        }
    }
}
