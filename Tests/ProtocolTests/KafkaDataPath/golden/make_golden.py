#!/usr/bin/env python3
"""Regenerates KafkaDataPathGolden.swift: request and response bodies for ApiVersions,
Metadata, Produce, Fetch and ListOffsets, encoded by kafka-python's own protocol classes
(the JSON-schema driven `ApiMessage` classes that kafka-python's client sends with), for
EVERY version paynode supports. The Swift tests decode these bytes, compare with values
built by the same rules as below, and re-encode them byte for byte.

    pip install kafka-python==3.0.12
    python3 Tests/ProtocolTests/KafkaDataPath/golden/make_golden.py \
        > Tests/ProtocolTests/KafkaDataPath/KafkaDataPathGolden.swift

Generated with kafka-python 3.0.12 (Python 3.11). Bodies only: no size prefix, no header.
kafka-python 3.0.12 has every version paynode supports (Produce 3-13, Fetch 4-18,
ListOffsets 1-11, Metadata 0-13, ApiVersions 0-4), so no version is left to round trip only.
All 71 bodies also decode and re-encode unchanged with kafka-python's older hand-written
Struct classes (kafka.protocol.old.*), checked once by hand.

The values must stay in step with `KafkaDataPathSamples.swift`: every version-gated field
carries a non-default value in the versions that have it and Kafka's default elsewhere.
"""
import kafka
from kafka.protocol.metadata import ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse
from kafka.protocol.producer import ProduceRequest, ProduceResponse
from kafka.protocol.consumer import FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse
from kafka.record.default_records import DefaultRecordBatchBuilder

assert kafka.__version__ == '3.0.12', kafka.__version__


def record_batch():
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=0, is_transactional=False,
        producer_id=4242, producer_epoch=3, base_sequence=17, batch_size=1 << 20)
    builder.append(0, timestamp=1700000000000, key=b"k", value=b"hello", headers=[])
    return bytes(builder.build())


BATCH = record_batch()


def bits(value):
    """kafka-python models the int32 *AuthorizedOperations bitfields as a set of bit
    positions named `authorized_operations`, with None for the default -2147483648."""
    if value == -2147483648:
        return None
    return {b for b in range(32) if value & (1 << b)}


def api_versions_request(v):
    if v >= 3:
        return ApiVersionsRequest[v](client_software_name="kafka-python", client_software_version="3.0.12")
    return ApiVersionsRequest[v]()


def api_versions_response(v):
    keys = [(0, 3, 8), (1, 4, 11), (18, 0, 2)]
    A = ApiVersionsResponse.ApiVersion
    return ApiVersionsResponse[v](
        error_code=0, throttle_time_ms=250 if v >= 1 else 0,
        api_keys=[A(api_key=k, min_version=lo, max_version=hi) for k, lo, hi in keys])


def metadata_request(v):
    T = MetadataRequest.MetadataRequestTopic
    return MetadataRequest[v](
        topics=[T(name="orders"), T(name="payments")],
        allow_auto_topic_creation=False if v >= 4 else True,
        include_cluster_authorized_operations=v >= 8,
        include_topic_authorized_operations=v >= 8)


def metadata_request_all(v):
    # v0 has no null array: "all topics" is an empty array there.
    return MetadataRequest[v](topics=[] if v == 0 else None,
                              allow_auto_topic_creation=True,
                              include_cluster_authorized_operations=False,
                              include_topic_authorized_operations=False)


def metadata_response(v):
    B = MetadataResponse.MetadataResponseBroker
    T = MetadataResponse.MetadataResponseTopic
    P = T.MetadataResponsePartition
    return MetadataResponse[v](
        throttle_time_ms=17 if v >= 3 else 0,
        brokers=[B(node_id=1, host="127.0.0.1", port=9092, rack="rack-a" if v >= 1 else None),
                 B(node_id=2, host="10.0.0.2", port=9093, rack=None)],
        cluster_id="paynode-cluster" if v >= 2 else None,
        controller_id=1 if v >= 1 else -1,
        topics=[
            T(error_code=0, name="orders", is_internal=(v >= 1),
              partitions=[
                  P(error_code=0, partition_index=0, leader_id=1, leader_epoch=7 if v >= 7 else -1,
                    replica_nodes=[1, 2], isr_nodes=[1], offline_replicas=[2] if v >= 5 else []),
                  P(error_code=9, partition_index=1, leader_id=-1, leader_epoch=-1,
                    replica_nodes=[], isr_nodes=[], offline_replicas=[]),
              ],
              authorized_operations=bits(0x0FF8 if v >= 8 else -2147483648)),
            T(error_code=3, name="missing", is_internal=False, partitions=[],
              authorized_operations=None),
        ],
        authorized_operations=bits(0x1F if v >= 8 else -2147483648))


def produce_request(v):
    D = ProduceRequest.TopicProduceData
    P = D.PartitionProduceData
    return ProduceRequest[v](
        transactional_id="tx-1", acks=-1, timeout_ms=30000,
        topic_data=[D(name="orders", partition_data=[P(index=0, records=BATCH), P(index=3, records=None)]),
                    D(name="payments", partition_data=[])])


def produce_response(v):
    T = ProduceResponse.TopicProduceResponse
    P = T.PartitionProduceResponse
    E = P.BatchIndexAndErrorMessage
    return ProduceResponse[v](
        responses=[T(name="orders", partition_responses=[
            P(index=0, error_code=0, base_offset=42, log_append_time_ms=1700000000123,
              log_start_offset=5 if v >= 5 else -1, record_errors=[], error_message=None),
            P(index=3, error_code=87, base_offset=-1, log_append_time_ms=-1,
              log_start_offset=0 if v >= 5 else -1,
              record_errors=[E(batch_index=2, batch_index_error_message="bad key"),
                             E(batch_index=4, batch_index_error_message=None)] if v >= 8 else [],
              error_message="invalid record" if v >= 8 else None),
        ])],
        throttle_time_ms=12)


def fetch_request(v):
    T = FetchRequest.FetchTopic
    P = T.FetchPartition
    F = FetchRequest.ForgottenTopic
    return FetchRequest[v](
        replica_id=-1, max_wait_ms=500, min_bytes=1, max_bytes=52428800, isolation_level=1,
        session_id=77 if v >= 7 else 0, session_epoch=3 if v >= 7 else -1,
        topics=[T(topic="orders", partitions=[
            P(partition=0, current_leader_epoch=5 if v >= 9 else -1, fetch_offset=1234,
              log_start_offset=10 if v >= 5 else -1, partition_max_bytes=1048576),
            P(partition=2, current_leader_epoch=-1, fetch_offset=0, log_start_offset=-1,
              partition_max_bytes=65536)])],
        forgotten_topics_data=[F(topic="old", partitions=[1, 4])] if v >= 7 else [],
        rack_id="rack-b" if v >= 11 else "")


def fetch_response(v):
    T = FetchResponse.FetchableTopicResponse
    P = T.PartitionData
    A = P.AbortedTransaction
    return FetchResponse[v](
        throttle_time_ms=3, error_code=0, session_id=77 if v >= 7 else 0,
        responses=[T(topic="orders", partitions=[
            P(partition_index=0, error_code=0, high_watermark=1235, last_stable_offset=1230,
              log_start_offset=10 if v >= 5 else -1,
              aborted_transactions=[A(producer_id=9, first_offset=1200)],
              preferred_read_replica=2 if v >= 11 else -1, records=BATCH),
            P(partition_index=2, error_code=1, high_watermark=0, last_stable_offset=-1,
              log_start_offset=-1, aborted_transactions=None, preferred_read_replica=-1, records=None),
        ])])


def list_offsets_request(v):
    T = ListOffsetsRequest.ListOffsetsTopic
    P = T.ListOffsetsPartition
    return ListOffsetsRequest[v](
        replica_id=-1, isolation_level=1 if v >= 2 else 0,
        topics=[T(name="orders", partitions=[
            P(partition_index=0, current_leader_epoch=6 if v >= 4 else -1, timestamp=-2),
            P(partition_index=1, current_leader_epoch=-1, timestamp=1700000000000)])])


def list_offsets_response(v):
    T = ListOffsetsResponse.ListOffsetsTopicResponse
    P = T.ListOffsetsPartitionResponse
    return ListOffsetsResponse[v](
        throttle_time_ms=8 if v >= 2 else 0,
        topics=[T(name="orders", partitions=[
            P(partition_index=0, error_code=0, timestamp=-1, offset=0, leader_epoch=6 if v >= 4 else -1),
            P(partition_index=1, error_code=0, timestamp=1700000000001, offset=57,
              leader_epoch=-1)])])


CASES = [
    ("apiVersionsRequest", range(0, 5), api_versions_request),
    ("apiVersionsResponse", range(0, 5), api_versions_response),
    ("metadataRequest", range(0, 9), metadata_request),
    ("metadataRequestAllTopics", range(0, 9), metadata_request_all),
    ("metadataResponse", range(0, 9), metadata_response),
    ("produceRequest", range(3, 9), produce_request),
    ("produceResponse", range(3, 9), produce_response),
    ("fetchRequest", range(4, 12), fetch_request),
    ("fetchResponse", range(4, 12), fetch_response),
    ("listOffsetsRequest", range(1, 6), list_offsets_request),
    ("listOffsetsResponse", range(1, 6), list_offsets_response),
]


def main():
    print("// Generated by golden/make_golden.py with kafka-python %s; do not edit." % kafka.__version__)
    print("// Message bodies (no size prefix, no header) encoded by kafka-python's ApiMessage classes.")
    print()
    print("enum KafkaDataPathGolden {")
    print('    static let recordBatch = "%s"' % BATCH.hex())
    for name, versions, make in CASES:
        print()
        print("    static let %s: [Int16: String] = [" % name)
        for v in versions:
            message = make(v)
            data = bytes(message.encode(version=v))
            # kafka-python must read its own bytes back to the same value.
            assert type(message).decode(data, version=v) == message, (name, v)
            print('        %d: "%s",' % (v, data.hex()))
        print("    ]")
    print("}")


if __name__ == "__main__":
    main()
