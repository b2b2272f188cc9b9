#!/usr/bin/env python3
"""Regenerates the golden record batches in GoldenBatchTests.swift.

The bytes come from kafka-python's own v2 batch builder, an independent
implementation of the wire format, so matching them checks our encoder and
decoder against a real client rather than against themselves.

    pip install kafka-python==3.0.12
    python3 Tests/ProtocolTests/golden/make_golden.py

Generated with kafka-python 3.0.12 (Python 3.11). The gzip bytes depend on
the zlib build and on gzip header fields, so only the uncompressed batch is
expected to be byte-identical to ours.
"""
import kafka
from kafka.record.default_records import DefaultRecordBatchBuilder

CODEC_NONE = 0
CODEC_GZIP = 1


def uncompressed_batch():
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=CODEC_NONE, is_transactional=False,
        producer_id=4242, producer_epoch=3, base_sequence=17,
        batch_size=1 << 20)
    builder.append(0, timestamp=1700000000000, key=b"order-1", value=b"{\"amount\":125}",
                   headers=[("trace-id", b"abc123"), ("retry", None)])
    builder.append(1, timestamp=1700000000250, key=None, value=b"no key",
                   headers=[])
    builder.append(2, timestamp=1699999999990, key=b"order-3", value=None,
                   headers=[("caf\u00e9", b"\x00\xff")])
    return bytes(builder.build())


def gzip_batch():
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=CODEC_GZIP, is_transactional=True,
        producer_id=77, producer_epoch=1, base_sequence=2147483646,
        batch_size=1 << 20)
    # Repetitive values so compression pays off; kafka-python silently falls
    # back to an uncompressed batch otherwise.
    for index in range(4):
        builder.append(index, timestamp=1700000001000 + index, key=b"acct-%d" % index,
                       value=b"payment " * 16, headers=[("kind", b"debit")])
    data = bytes(builder.build())
    assert data[22] & 0x07 == CODEC_GZIP, "builder fell back to no compression"
    return data


if __name__ == "__main__":
    print("// kafka-python", kafka.__version__)
    print("uncompressed:", uncompressed_batch().hex())
    print("gzip:", gzip_batch().hex())
