#!/usr/bin/env python3
"""Regenerates KafkaGroupsGoldenBytes.swift: request/response bodies for the group, offset and
admin APIs (and the embedded consumer protocol) as encoded by a real client, kafka-python.

    pip install kafka-python==3.0.12
    python3 Tests/ProtocolTests/KafkaGroups/golden/make_golden.py

Generated with kafka-python 3.0.12 (Python 3.11). kafka-python 3.x ships two independent
encoders, and this script uses both:

  * the hand-written structs in `kafka.protocol.old.*` (the classic kafka-python protocol
    classes: OffsetCommitRequest_v7, JoinGroupRequest_v5, ConsumerProtocolMemberMetadata_v0, ...);
  * the generated classes in `kafka.protocol.*`, driven by a copy of Apache Kafka's own message
    JSON definitions (`kafka/protocol/schemas/resources/*.json`).

For every (message, version) in paynode's range the JSON-driven encoding is emitted, and where a
hand-written class exists too, the script asserts both produce identical bytes (any difference
is printed and makes the script fail). The hand-written classes lack CreateTopics v4,
DescribeGroups v4 and the consumer protocol v1-3; those come from the JSON-driven encoder only.

The sample values here must match the `sample(version:)` functions in KafkaGroupsTests.swift.
"""
import sys
from pathlib import Path

import kafka
from kafka.protocol.old import types as OT
from kafka.protocol.old import admin as old_admin, commit as old_commit, group as old_group
from kafka.protocol.old import find_coordinator as old_fc, init_producer_id as old_ipi
from kafka.protocol.old import consumer_protocol as old_cp
from kafka.protocol.admin import (CreateTopicsRequest, CreateTopicsResponse, DescribeGroupsRequest,
                                  DescribeGroupsResponse, ListGroupsRequest, ListGroupsResponse)
from kafka.protocol.consumer import (OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
                                     OffsetFetchResponse, JoinGroupRequest, JoinGroupResponse,
                                     SyncGroupRequest, SyncGroupResponse, HeartbeatRequest,
                                     HeartbeatResponse, LeaveGroupRequest, LeaveGroupResponse)
from kafka.protocol.metadata import FindCoordinatorRequest, FindCoordinatorResponse
from kafka.protocol.producer import InitProducerIdRequest, InitProducerIdResponse
from kafka.protocol.consumer.metadata import ConsumerProtocolSubscription, ConsumerProtocolAssignment

assert kafka.__version__ == '3.0.12', kafka.__version__
INT32_MIN = -2147483648


def bits(value):
    """authorized_operations is a 'bitfield' in kafka-python: a set of bit indexes."""
    value &= 0xFFFFFFFF
    return {i for i in range(32) if value >> i & 1}


# ---------------------------------------------------------------------------------------------
# Samples: snake_case JSON field names; every version-gated field non-default where present.

def create_topics_req(v):
    return dict(topics=[
        dict(name='payments', num_partitions=3, replication_factor=1, assignments=[],
             configs=[dict(name='retention.ms', value='86400000'), dict(name='cleanup.policy', value=None)]),
        dict(name='audit', num_partitions=-1, replication_factor=-1,
             assignments=[dict(partition_index=0, broker_ids=[1, 2]), dict(partition_index=1, broker_ids=[2, 3])],
             configs=[]),
    ], timeout_ms=30000, validate_only=v >= 1)


def create_topics_resp(v):
    return dict(throttle_time_ms=125 if v >= 2 else 0, topics=[
        dict(name='payments', error_code=0, error_message=None),
        dict(name='audit', error_code=36, error_message="Topic 'audit' already exists." if v >= 1 else None),
    ])


def init_producer_id_req(v):
    return dict(transactional_id='txn-7' if v >= 1 else None, transaction_timeout_ms=60000)


def init_producer_id_resp(v):
    return dict(throttle_time_ms=10, error_code=0, producer_id=4242, producer_epoch=3)


def find_coordinator_req(v):
    return dict(key='orders', key_type=1 if v >= 1 else 0)


def find_coordinator_resp(v):
    return dict(throttle_time_ms=7 if v >= 1 else 0, error_code=0, error_message='NONE' if v >= 1 else None,
                node_id=1, host='127.0.0.1', port=9092)


def offset_commit_req(v):
    epoch = 4 if v >= 6 else -1
    return dict(group_id='orders', generation_id_or_member_epoch=5, member_id='consumer-1-abc',
                group_instance_id='instance-1' if v >= 7 else None,
                retention_time_ms=86400000 if 2 <= v <= 4 else -1,
                topics=[
                    dict(name='payments', partitions=[
                        dict(partition_index=0, committed_offset=100, committed_leader_epoch=epoch, committed_metadata='meta'),
                        dict(partition_index=1, committed_offset=200, committed_leader_epoch=epoch, committed_metadata=None)]),
                    dict(name='audit', partitions=[
                        dict(partition_index=2, committed_offset=0, committed_leader_epoch=-1, committed_metadata='')]),
                ])


def offset_commit_resp(v):
    return dict(throttle_time_ms=20 if v >= 3 else 0, topics=[
        dict(name='payments', partitions=[dict(partition_index=0, error_code=0), dict(partition_index=1, error_code=25)])])


def offset_fetch_req(v):
    return dict(group_id='orders', topics=[dict(name='payments', partition_indexes=[0, 1, 2]),
                                           dict(name='audit', partition_indexes=[])])


def offset_fetch_req_all(v):  # null topics: every committed offset (v2+)
    return dict(group_id='orders', topics=None)


def offset_fetch_resp(v):
    return dict(throttle_time_ms=30 if v >= 3 else 0, topics=[
        dict(name='payments', partitions=[
            dict(partition_index=0, committed_offset=100, committed_leader_epoch=4 if v >= 5 else -1, metadata='meta', error_code=0),
            dict(partition_index=1, committed_offset=-1, committed_leader_epoch=-1, metadata=None, error_code=0),
            dict(partition_index=2, committed_offset=55, committed_leader_epoch=-1, metadata='', error_code=3)])],
        error_code=16 if v >= 2 else 0)


def join_group_req(v):
    return dict(group_id='orders', session_timeout_ms=10000, rebalance_timeout_ms=300000 if v >= 1 else 10000,
                member_id='consumer-1-abc', group_instance_id='instance-1' if v >= 5 else None,
                protocol_type='consumer',
                protocols=[dict(name='range', metadata=bytes([0, 1, 2, 3, 0xFF])), dict(name='roundrobin', metadata=b'')])


def join_group_resp(v):
    return dict(throttle_time_ms=40 if v >= 2 else 0, error_code=0, generation_id=3, protocol_name='range',
                leader='m-1', member_id='m-2', members=[
                    dict(member_id='m-1', group_instance_id='i-1' if v >= 5 else None, metadata=bytes([1, 2])),
                    dict(member_id='m-2', group_instance_id=None, metadata=b'')])


def sync_group_req(v):
    return dict(group_id='orders', generation_id=3, member_id='m-1', group_instance_id='i-1' if v >= 3 else None,
                assignments=[dict(member_id='m-1', assignment=bytes([0, 1])), dict(member_id='m-2', assignment=b'')])


def sync_group_resp(v):
    return dict(throttle_time_ms=50 if v >= 1 else 0, error_code=27, assignment=bytes([9, 8, 7]))


def heartbeat_req(v):
    return dict(group_id='orders', generation_id=3, member_id='m-1', group_instance_id='i-1' if v >= 3 else None)


def heartbeat_resp(v):
    return dict(throttle_time_ms=60 if v >= 1 else 0, error_code=27)


def leave_group_req(v):
    if v >= 3:
        return dict(group_id='orders', members=[dict(member_id='m-1', group_instance_id='i-1'),
                                                dict(member_id='m-2', group_instance_id=None)])
    return dict(group_id='orders', member_id='m-1')


def leave_group_resp(v):
    d = dict(throttle_time_ms=70 if v >= 1 else 0, error_code=0)
    if v >= 3:
        d['members'] = [dict(member_id='m-1', group_instance_id='i-1', error_code=0),
                        dict(member_id='m-2', group_instance_id=None, error_code=25)]
    return d


def describe_groups_req(v):
    return dict(groups=['orders', 'audit'], include_authorized_operations=v >= 3)


def describe_groups_resp(v):
    return dict(throttle_time_ms=80 if v >= 1 else 0, groups=[
        dict(error_code=0, group_id='orders', group_state='Stable', protocol_type='consumer', protocol_data='range',
             members=[dict(member_id='m-1', group_instance_id='i-1' if v >= 4 else None, client_id='client-a',
                           client_host='/127.0.0.1', member_metadata=bytes([1, 2, 3]), member_assignment=bytes([4, 5]))],
             authorized_operations=bits(0xF8 if v >= 3 else INT32_MIN)),
        dict(error_code=69, group_id='gone', group_state='Dead', protocol_type='', protocol_data='', members=[],
             authorized_operations=bits(INT32_MIN)),
    ])


def list_groups_req(v):
    return dict()


def list_groups_resp(v):
    return dict(throttle_time_ms=90 if v >= 1 else 0, error_code=0,
                groups=[dict(group_id='orders', protocol_type='consumer'), dict(group_id='connect-x', protocol_type='connect')])


def subscription(v):
    return dict(version=v, topics=['payments', 'audit'],
                user_data=[b'', None, b'\xca\xfe', b'\xca\xfe'][v],
                owned_partitions=[dict(topic='payments', partitions=[0, 2])] if v >= 1 else [],
                generation_id=5 if v >= 2 else -1, rack_id='rack-a' if v >= 3 else None)


def assignment(v):
    return dict(version=v, assigned_partitions=[dict(topic='payments', partitions=[0, 1]), dict(topic='audit', partitions=[2])],
                user_data=[b'', None, b'\x01', b'\x01'][v])


# ---------------------------------------------------------------------------------------------
# Encoders

def to_old(schema, d):
    """Dict -> positional tuple for a kafka.protocol.old Schema."""
    out = []
    for name, field in zip(schema.names, schema.fields):
        value = d[name]
        if isinstance(field, OT.Array) and isinstance(field.array_of, OT.Schema) and value is not None:
            value = [to_old(field.array_of, item) for item in value]
        out.append(value)
    return tuple(out)


def to_new(cls, fields, d):
    """Dict -> kwargs for a JSON-driven kafka.protocol class (nested classes by struct type name)."""
    kwargs = {}
    for f in fields:
        name = ''.join('_' + c.lower() if c.isupper() else c for c in f['name']).lstrip('_')
        if name not in d:
            continue
        value = d[name]
        if 'fields' in f and value is not None:
            sub = getattr(cls, f['type'][2:] if f['type'].startswith('[]') else f['type'])
            value = [sub(**to_new(sub, f['fields'], item)) for item in value]
        kwargs[name] = value
    return kwargs


def encode_new(cls, d, version):
    return cls(**to_new(cls, cls.json['fields'], d)).encode(version=version)


def encode_old(old_list, d, version):
    if old_list is None or version >= len(old_list):
        return None
    klass = old_list[version]
    return klass(*to_old(klass.SCHEMA, d)).encode()


MESSAGES = [
    # name, versions, sample, json class, hand-written classes
    ('CreateTopicsRequest', range(0, 5), create_topics_req, CreateTopicsRequest, old_admin.CreateTopicsRequest),
    ('CreateTopicsResponse', range(0, 5), create_topics_resp, CreateTopicsResponse, old_admin.CreateTopicsResponse),
    ('InitProducerIdRequest', range(0, 2), init_producer_id_req, InitProducerIdRequest, old_ipi.InitProducerIdRequest),
    ('InitProducerIdResponse', range(0, 2), init_producer_id_resp, InitProducerIdResponse, old_ipi.InitProducerIdResponse),
    ('FindCoordinatorRequest', range(0, 3), find_coordinator_req, FindCoordinatorRequest, old_fc.FindCoordinatorRequest),
    ('FindCoordinatorResponse', range(0, 3), find_coordinator_resp, FindCoordinatorResponse, old_fc.FindCoordinatorResponse),
    ('OffsetCommitRequest', range(2, 8), offset_commit_req, OffsetCommitRequest, old_commit.OffsetCommitRequest),
    ('OffsetCommitResponse', range(2, 8), offset_commit_resp, OffsetCommitResponse, old_commit.OffsetCommitResponse),
    ('OffsetFetchRequest', range(1, 6), offset_fetch_req, OffsetFetchRequest, old_commit.OffsetFetchRequest),
    ('OffsetFetchRequestAll', range(2, 6), offset_fetch_req_all, OffsetFetchRequest, old_commit.OffsetFetchRequest),
    ('OffsetFetchResponse', range(1, 6), offset_fetch_resp, OffsetFetchResponse, old_commit.OffsetFetchResponse),
    ('JoinGroupRequest', range(0, 6), join_group_req, JoinGroupRequest, old_group.JoinGroupRequest),
    ('JoinGroupResponse', range(0, 6), join_group_resp, JoinGroupResponse, old_group.JoinGroupResponse),
    ('SyncGroupRequest', range(0, 4), sync_group_req, SyncGroupRequest, old_group.SyncGroupRequest),
    ('SyncGroupResponse', range(0, 4), sync_group_resp, SyncGroupResponse, old_group.SyncGroupResponse),
    ('HeartbeatRequest', range(0, 4), heartbeat_req, HeartbeatRequest, old_group.HeartbeatRequest),
    ('HeartbeatResponse', range(0, 4), heartbeat_resp, HeartbeatResponse, old_group.HeartbeatResponse),
    ('LeaveGroupRequest', range(0, 4), leave_group_req, LeaveGroupRequest, old_group.LeaveGroupRequest),
    ('LeaveGroupResponse', range(0, 4), leave_group_resp, LeaveGroupResponse, old_group.LeaveGroupResponse),
    ('DescribeGroupsRequest', range(0, 5), describe_groups_req, DescribeGroupsRequest, old_admin.DescribeGroupsRequest),
    ('DescribeGroupsResponse', range(0, 5), describe_groups_resp, DescribeGroupsResponse, old_admin.DescribeGroupsResponse),
    ('ListGroupsRequest', range(0, 3), list_groups_req, ListGroupsRequest, old_admin.ListGroupsRequest),
    ('ListGroupsResponse', range(0, 3), list_groups_resp, ListGroupsResponse, old_admin.ListGroupsResponse),
]


def main():
    entries = []  # (key, hex, source)
    problems = []
    for name, versions, sample, json_cls, old_list in MESSAGES:
        for v in versions:
            d = sample(v)
            new = encode_new(json_cls, d, v)
            old = encode_old(old_list, d, v)
            if old is not None and old != new:
                problems.append(f'{name} v{v}: hand-written {old.hex()} != json {new.hex()}')
            entries.append((f'{name}.v{v}', new.hex(), 'kafka.protocol.old + json' if old is not None else 'json only'))

    for v in range(4):
        d = subscription(v)
        new = ConsumerProtocolSubscription(**to_new(ConsumerProtocolSubscription, ConsumerProtocolSubscription.json['fields'], d)).encode(version=v)
        source = 'json only'
        if v == 0:
            old = old_cp.ConsumerProtocolMemberMetadata_v0(0, d['topics'], d['user_data']).encode()
            if old != new:
                problems.append(f'ConsumerProtocolSubscription v0: {old.hex()} != {new.hex()}')
            source = 'kafka.protocol.old + json'
        entries.append((f'ConsumerProtocolSubscription.v{v}', new.hex(), source))
        d = assignment(v)
        new = ConsumerProtocolAssignment(**to_new(ConsumerProtocolAssignment, ConsumerProtocolAssignment.json['fields'], d)).encode(version=v)
        source = 'json only'
        if v == 0:
            old = old_cp.ConsumerProtocolMemberAssignment_v0(
                0, [(tp['topic'], tp['partitions']) for tp in d['assigned_partitions']], d['user_data']).encode()
            if old != new:
                problems.append(f'ConsumerProtocolAssignment v0: {old.hex()} != {new.hex()}')
            source = 'kafka.protocol.old + json'
        entries.append((f'ConsumerProtocolAssignment.v{v}', new.hex(), source))

    lines = [
        '// Generated by golden/make_golden.py with kafka-python 3.0.12; do not edit by hand.',
        '// Keys are "<Message>.v<version>"; values are message bodies (no size, no header).',
        '// OffsetFetchRequestAll is OffsetFetchRequest with null topics (all partitions, v2+).',
        '',
        'enum KafkaGroupsGolden {',
        '    /// Hex body per message and version, as kafka-python encodes it.',
        '    static let bodies: [String: String] = [',
    ]
    for key, hexstr, _ in entries:
        lines.append(f'        "{key}": "{hexstr}",')
    lines += ['    ]', '', '    /// Which kafka-python encoder(s) produced each body (both agree where both exist).',
              '    static let sources: [String: String] = [']
    for key, _, source in entries:
        lines.append(f'        "{key}": "{source}",')
    lines += ['    ]', '}', '']
    out = Path(__file__).resolve().parent.parent / 'KafkaGroupsGoldenBytes.swift'
    out.write_text('\n'.join(lines))
    print(f'wrote {len(entries)} bodies to {out}')
    for p in problems:
        print('MISMATCH', p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
