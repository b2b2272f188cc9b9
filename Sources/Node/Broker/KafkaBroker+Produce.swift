import Logging
import LogStore
import NIOCore
import Protocol

extension KafkaBroker {
    func produce(_ request: ProduceRequest, logger: Logger) async -> ProduceResponse {
        func everyPartition(_ code: KafkaErrorCode, _ message: String) -> ProduceResponse {
            countRequest(.produce, error: code)
            return ProduceResponse(responses: request.topicData.map { topic in
                .init(name: topic.name, partitionResponses: topic.partitionData.map {
                    .init(index: $0.index, errorCode: code.rawValue, baseOffset: -1, errorMessage: message)
                })
            })
        }
        guard [0, 1, -1].contains(request.acks) else {
            return everyPartition(.invalidRequiredAcks, "acks must be 0, 1 or -1, not \(request.acks)")
        }
        guard request.transactionalId == nil else {
            return everyPartition(.invalidRequest, "transactions are not supported")
        }
        // Partitions of one request append concurrently, so they share group commits.
        let store = self.store
        let results = await withTaskGroup(of: (Int, Int, ProduceResponse.PartitionProduceResponse).self) { group in
            for (topicIndex, topic) in request.topicData.enumerated() {
                for (partitionIndex, data) in topic.partitionData.enumerated() {
                    group.addTask {
                        (topicIndex, partitionIndex, await Self.appendPartition(store: store, topic: topic.name, data: data, logger: logger))
                    }
                }
            }
            var results: [[ProduceResponse.PartitionProduceResponse?]] = request.topicData.map { Array(repeating: nil, count: $0.partitionData.count) }
            for await (topicIndex, partitionIndex, response) in group {
                results[topicIndex][partitionIndex] = response
            }
            return results
        }
        var worst = KafkaErrorCode.none
        let responses = request.topicData.enumerated().map { topicIndex, topic in
            ProduceResponse.TopicProduceResponse(name: topic.name, partitionResponses: results[topicIndex].compactMap { response in
                if let response, response.errorCode != 0 { worst = KafkaErrorCode(rawValue: response.errorCode) ?? .unknownServerError }
                return response
            })
        }
        countRequest(.produce, error: worst)
        return ProduceResponse(responses: responses)
    }

    private static func appendPartition(store: LogStore, topic: String, data: ProduceRequest.PartitionProduceData,
                                        logger: Logger) async -> ProduceResponse.PartitionProduceResponse {
        func failure(_ code: KafkaErrorCode, _ message: String, recordIndex: Int? = nil) -> ProduceResponse.PartitionProduceResponse {
            logger.warning("produce rejected", metadata: ["topic": "\(topic)", "partition": "\(data.index)", "error": "\(message)"])
            // Produce v8+ names the record to blame, as Kafka's LogValidator does.
            let recordErrors = recordIndex.flatMap(Int32.init(exactly:)).map {
                [ProduceResponse.BatchIndexAndErrorMessage(batchIndex: $0, batchIndexErrorMessage: message)]
            } ?? []
            return .init(index: data.index, errorCode: code.rawValue, baseOffset: -1, recordErrors: recordErrors, errorMessage: message)
        }
        guard let records = data.records, records.readableBytes > 0 else {
            return failure(.invalidRecord, "no records")
        }
        let batch: ByteBuffer
        do {
            let (batches, truncated) = try RecordBatch.split(records)
            // Message format v2 carries exactly one batch per partition per request.
            guard batches.count == 1, !truncated else {
                return failure(.invalidRecord, "expected exactly one whole record batch, got \(batches.count)\(truncated ? " and a truncated one" : "")")
            }
            batch = batches[0]
            let header = try RecordBatch.peekHeader(batch)
            if header.isTransactional { return failure(.invalidRecord, "transactional batches are not supported") }
        } catch where error.code == .unsupportedMagic {
            return failure(.unsupportedForMessageFormat, "only message format v2 (magic 2) is accepted: \(error.message)")
        } catch {
            return failure(.corruptMessage, error.message)
        }
        do {
            let outcome = try await store.appendBatch(topic: topic, partition: data.index, batch: batch)
            if case .duplicate(let original) = outcome {
                logger.debug("duplicate batch answered with its original offset",
                             metadata: ["topic": "\(topic)", "partition": "\(data.index)", "offset": "\(original.baseOffset)"])
            }
            return .init(index: data.index, errorCode: 0, baseOffset: outcome.result.baseOffset, logAppendTimeMs: -1,
                         logStartOffset: outcome.result.logStartOffset)
        } catch let error as LogStoreError {
            return failure(error.kafkaErrorCode, error.message, recordIndex: error.recordIndex)
        } catch {
            return failure(.unknownServerError, "\(error)")
        }
    }
}
