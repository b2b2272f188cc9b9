"""`paynode topics|groups|consume` (Kafka-protocol admin commands) against data written by kcat."""
import os
import re
import subprocess

from conftest import PAYNODE, paynode


def kcat(broker, *args, input=None):
    result = subprocess.run(["kcat", "-b", broker.bootstrap, *args], input=input, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, f"kcat {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def produce(broker, topic, partition, lines, *headers):
    """kcat -P of `key:value` lines to one partition."""
    args = ["-P", "-t", topic, "-p", str(partition), "-K:"]
    for header in headers:
        args += ["-H", header]
    kcat(broker, *args, input="\n".join(lines) + "\n")


def kcat_rows(broker, topic):
    """Every record as paynode consume prints it: partition, offset, key, value, headers."""
    out = kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p\t%o\t%k\t%s\t%h\n")
    return sorted(tuple(line.split("\t")) for line in out.splitlines())


def consume_rows(out):
    return sorted(tuple(line.split("\t")) for line in out.splitlines())


def describe(broker, topic):
    """`topics describe` as {partition: (log_start, high_watermark)} plus the header line."""
    out = paynode("topics", "describe", topic, "--bootstrap-servers", broker.bootstrap)
    lines = out.splitlines()
    parts = {}
    for line in lines[1:]:
        m = re.match(r"\s+(\d+)\s+leader=0\s+log-start=(\d+)\s+high-watermark=(\d+)\s+records=(\d+)$", line)
        assert m, line
        parts[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
    return lines[0], parts


def group_rows(broker, group, *topics):
    args = ["groups", "describe", group, "--bootstrap-servers", broker.bootstrap]
    for topic in topics:
        args += ["--topic", topic]
    lines = paynode(*args).splitlines()
    assert lines[0].startswith(f"group {group}  state=")
    rows = {}
    for line in lines[1:]:
        if line.strip().startswith("member "):
            continue
        fields = re.split(r"\s{2,}", line.strip())
        values = dict(field.split("=", 1) for field in fields[2:])
        values.pop("owner", None)
        rows[(fields[0], int(fields[1]))] = values
    return rows


def test_topics_create_list_and_describe(broker):
    out = paynode("topics", "create", "admin-orders", "--partitions", "4", "--retention-ms", "86400000",
                  "--bootstrap-servers", broker.bootstrap)
    assert out.strip() == "created topic admin-orders with 4 partitions"
    produce(broker, "admin-orders", 0, [f"k{i}:v{i}" for i in range(5)])
    produce(broker, "admin-orders", 2, [f"k{i}:v{i}" for i in range(12)])
    kcat(broker, "-P", "-t", "other", "-p", "0", input="x\n")  # auto-created with the default 3 partitions

    listed = paynode("topics", "list", "--bootstrap-servers", broker.bootstrap).splitlines()
    assert listed == ["admin-orders  partitions=4", "other  partitions=3"]
    metadata = kcat(broker, "-L")
    assert 'topic "admin-orders" with 4 partitions' in metadata
    assert 'topic "other" with 3 partitions' in metadata

    header, partitions = describe(broker, "admin-orders")
    assert header == "admin-orders  partitions=4"
    assert partitions == {0: (0, 5), 1: (0, 0), 2: (0, 12), 3: (0, 0)}
    # The high watermark is one past kcat's last offset per partition.
    last = {}
    for partition, offset, *_ in kcat_rows(broker, "admin-orders"):
        last[int(partition)] = max(last.get(int(partition), -1), int(offset))
    assert {p: hw - 1 for p, (_, hw) in partitions.items() if hw > 0} == last


def test_topics_errors_exit_non_zero(broker):
    paynode("topics", "create", "twice", "--partitions", "2", "--bootstrap-servers", broker.bootstrap)
    again = subprocess.run([PAYNODE, "topics", "create", "twice", "--partitions", "2", "--bootstrap-servers", broker.bootstrap],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode != 0
    assert "already exists" in again.stderr and "twice" in again.stderr
    missing = subprocess.run([PAYNODE, "topics", "describe", "nope", "--bootstrap-servers", broker.bootstrap],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "nope" in missing.stderr
    # Looking at a topic must not create it.
    assert "nope" not in paynode("topics", "list", "--bootstrap-servers", broker.bootstrap)


def test_consume_matches_kcat(broker):
    paynode("topics", "create", "events", "--partitions", "3", "--bootstrap-servers", broker.bootstrap)
    for partition in range(3):
        produce(broker, "events", partition, [f"order-{partition}-{i}:payment {i} of {partition}" for i in range(40)],
                "traceparent=00-abc-def-01", "schema=v1")
    kcat(broker, "-P", "-t", "events", "-p", "1", input="no key here\n")

    out = paynode("consume", "events", "--from-beginning", "--exit-at-end", "--bootstrap-servers", broker.bootstrap)
    rows = consume_rows(out)
    assert len(rows) == 121
    assert rows == kcat_rows(broker, "events")
    assert ("1", "40", "", "no key here", "") in rows

    # --max stops early; --partition reads one partition in offset order.
    out = paynode("consume", "events", "--from-beginning", "--partition", "2", "--max", "7",
                  "--bootstrap-servers", broker.bootstrap)
    lines = [line.split("\t") for line in out.splitlines()]
    assert [(p, int(o), k) for p, o, k, _, _ in lines] == [("2", i, f"order-2-{i}") for i in range(7)]

    # Without --from-beginning it starts at the end: nothing to print before new records.
    assert paynode("consume", "events", "--exit-at-end", "--bootstrap-servers", broker.bootstrap) == ""


def test_consume_with_a_group_and_groups_describe(broker):
    paynode("topics", "create", "lagging", "--partitions", "2", "--bootstrap-servers", broker.bootstrap)
    produce(broker, "lagging", 0, [f"a{i}:x" for i in range(10)])
    produce(broker, "lagging", 1, [f"b{i}:y" for i in range(4)])

    # Nothing committed yet: committed and lag are '-'.
    rows = group_rows(broker, "audit", "lagging")
    assert rows[("lagging", 0)] == {"committed": "-", "high-watermark": "10", "lag": "-"}
    assert rows[("lagging", 1)] == {"committed": "-", "high-watermark": "4", "lag": "-"}

    # Read 6 records of partition 0 in the group: it commits the next offset to read.
    out = paynode("consume", "lagging", "--from-beginning", "--partition", "0", "--max", "6", "--group", "audit",
                  "--bootstrap-servers", broker.bootstrap)
    assert len(out.splitlines()) == 6
    rows = group_rows(broker, "audit", "lagging")
    assert rows[("lagging", 0)]["committed"] == "6"
    assert rows[("lagging", 0)]["lag"] == "4"
    assert rows[("lagging", 0)]["metadata"] == "paynode-consume"
    assert rows[("lagging", 1)]["lag"] == "-"

    # The group resumes where it stopped and reads everything else.
    out = paynode("consume", "lagging", "--group", "audit", "--exit-at-end", "--bootstrap-servers", broker.bootstrap)
    resumed = consume_rows(out)
    expected = [r for r in kcat_rows(broker, "lagging") if not (r[0] == "0" and int(r[1]) < 6)]
    # Partition 1 had no committed offset and no --from-beginning: it starts at the end.
    assert resumed == [r for r in expected if r[0] == "0"]

    produce(broker, "lagging", 0, ["late:z", "later:z"])
    rows = group_rows(broker, "audit")  # every topic the group committed to
    assert rows[("lagging", 0)]["committed"] == "10"
    assert rows[("lagging", 0)]["high-watermark"] == "12"
    assert rows[("lagging", 0)]["lag"] == "2"


def test_bootstrap_servers_from_the_environment(broker):
    kcat(broker, "-P", "-t", "env-topic", "-p", "0", input="x\n")
    env = dict(os.environ, PAYNODE_BOOTSTRAP_SERVERS=broker.bootstrap)
    result = subprocess.run([PAYNODE, "topics", "list"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert "env-topic  partitions=3" in result.stdout.splitlines()
