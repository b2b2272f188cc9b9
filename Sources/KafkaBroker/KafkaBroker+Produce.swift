import Logging
import LogStore
import NIOCore
import Protocol

extension KafkaBroker {
    func produce(_ request: ProduceRequest, session: KafkaSession, logger: Logger) async -> ProduceResponse {
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
        let principal = session.principal
        let results = await withTaskGroup(of: (Int, Int, ProduceResponse.PartitionProduceResponse).self) { group in
            for (topicIndex, topic) in request.topicData.enumerated() {
                for (partitionIndex, data) in topic.partitionData.enumerated() {
                    group.addTask {
                        (topicIndex, partitionIndex, await self.appendPartition(store: store, topic: topic.name, data: data, principal: principal, logger: logger))
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

    private func appendPartition(store: LogStore, topic: String, data: ProduceRequest.PartitionProduceData,
                                 principal: KafkaPrincipal, logger: Logger) async -> ProduceResponse.PartitionProduceResponse {
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
            if header.producerId >= 0, let refusal = await refuseBorrowedProducerId(header.producerId, principal: principal) {
                return failure(.clusterAuthorizationFailed, refusal)
            }
        } catch where error.code == .unsupportedMagic {
            return failure(.unsupportedForMessageFormat, "only message format v2 (magic 2) is accepted: \(error.message)")
        } catch {
            return failure(.corruptMessage, error.message)
        }
        if let refusal = refuseBySchema(batch, topic: topic) {
            return failure(.invalidRecord, refusal.message, recordIndex: refusal.index)
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

    /// Why a record of `batch` is not the message the topic's `paynode.value.schema` names, with
    /// the record's index; nil when the topic names none or every record is one. Checked here,
    /// on the request's task, not on the store's single writer.
    private func refuseBySchema(_ batch: ByteBuffer, topic: String) -> (message: String, index: Int?)? {
        guard let schema = (try? store.read { try $0.configuration(ofTopic: topic) })??.valueSchema else { return nil }
        guard let check = configuration.valueSchemas[schema] else {
            return ("topic \(topic) requires \(schema), which this node does not know", nil)
        }
        let records: [Record]
        do {
            records = try RecordBatch.decodeRecords(batch)
        } catch {
            // The store's own validation names what is wrong with the batch.
            return nil
        }
        for (index, record) in records.enumerated() {
            if let problem = check(record.value) {
                return ("record \(index) of the batch for \(topic): \(problem)", index)
            }
        }
        return nil
    }

    /// Why a batch carrying `producerId` may not come from `principal` (the id was issued to
    /// someone else), or nil. Owners never change, so they are cached; an id with no recorded
    /// owner (issued before owners were recorded) is claimed by its first user.
    func refuseBorrowedProducerId(_ producerId: Int64, principal: KafkaPrincipal) async -> String? {
        let claimant = principal.description
        var owner = producerOwners.withLock { $0[producerId] }
        if owner == nil {
            do {
                owner = try await store.write { transaction -> String in
                    if let recorded = try ProducerOwners.owner(of: producerId, in: transaction.table(ProducerOwners.table)) { return recorded }
                    try ProducerOwners.record(producerId, owner: claimant, in: transaction)
                    return claimant
                }
            } catch {
                return "the owner of producer id \(producerId) cannot be read: \(error)"
            }
            producerOwners.withLock { cache in
                if cache.count >= 65_536 { cache.removeAll(keepingCapacity: true) }
                cache[producerId] = owner
            }
        }
        guard let owner, owner != claimant else { return nil }
        rejections.warning(key: "borrowed-producer-id", "refused a batch whose producer id belongs to another principal",
                           metadata: ["producerId": "\(producerId)", "principal": "\(claimant)"])
        return "producer id \(producerId) was not issued to \(claimant)"
    }
}
