"""Debian's kcat (librdkafka 2.0.2) against paynode broker."""
import subprocess
import time

KCAT = "kcat"


def kcat(broker, *args, input=None, timeout=60):
    result = subprocess.run([KCAT, "-b", broker.bootstrap, *args], input=input, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"kcat {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def consume(broker, topic, *args):
    """Every record of `topic` as (partition, offset, key, value, headers, timestamp)."""
    out = kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
               "-f", "%p\t%o\t%k\t%s\t%h\t%T\n", *args)
    rows = []
    for line in out.splitlines():
        partition, offset, key, value, headers, timestamp = line.split("\t")
        rows.append((int(partition), int(offset), key, value, headers, int(timestamp)))
    return rows


def test_metadata_lists_broker_and_topics(broker):
    kcat(broker, "-P", "-t", "listed", input="one\n")
    out = kcat(broker, "-L")
    assert f"broker 0 at 127.0.0.1:{broker.kafka_port}" in out
    assert 'topic "listed" with 3 partitions' in out


def test_produce_and_consume_exactly(broker):
    lines = [f"key{i}:value {i}" for i in range(200)]
    before = int(time.time() * 1000)
    kcat(broker, "-P", "-t", "plain", "-K:", "-p", "0", "-H", "traceparent=00-abc-def-01", "-H", "schema=v1",
         input="\n".join(lines) + "\n")
    after = int(time.time() * 1000)
    rows = consume(broker, "plain", "-p", "0")
    assert [(r[2], r[3]) for r in rows] == [tuple(line.split(":", 1)) for line in lines]
    assert [r[1] for r in rows] == list(range(200))
    assert all(r[4] == "traceparent=00-abc-def-01,schema=v1" for r in rows)
    assert all(before - 1000 <= r[5] <= after + 1000 for r in rows)


def test_gzip_batches(broker):
    values = [f"compressed payment event {i} " * 5 for i in range(500)]
    kcat(broker, "-P", "-t", "zipped", "-z", "gzip", "-p", "1", input="\n".join(values) + "\n")
    rows = consume(broker, "zipped", "-p", "1")
    assert [r[3] for r in rows] == [v for v in values]


def test_idempotent_producer(broker):
    values = [f"idempotent {i}" for i in range(1000)]
    kcat(broker, "-P", "-t", "idem", "-p", "2", "-X", "enable.idempotence=true", input="\n".join(values) + "\n")
    rows = consume(broker, "idem", "-p", "2")
    assert [r[3] for r in rows] == values


def test_mid_batch_offset_starts_at_that_record(broker):
    values = [f"v{i}" for i in range(100)]
    # One produce call: librdkafka sends these as one batch.
    kcat(broker, "-P", "-t", "mid", "-p", "0", input="\n".join(values) + "\n")
    out = kcat(broker, "-C", "-t", "mid", "-p", "0", "-o", "37", "-e", "-q", "-f", "%o %s\n")
    got = [line.split(" ") for line in out.splitlines()]
    assert got[0] == ["37", "v37"]
    assert [int(o) for o, _ in got] == list(range(37, 100))
