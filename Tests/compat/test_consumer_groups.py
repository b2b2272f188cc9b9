"""Consumer groups with real clients: partitions shared among members and moved when one dies
(SIGKILL, after the session timeout) or leaves (at once); kafka-python subscribe/commit/resume;
kcat -G; a broker SIGKILLed and restarted during a group's life."""
import os
import signal
import subprocess
import sys
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer

from conftest import Broker, paynode

HERE = os.path.dirname(os.path.abspath(__file__))
GROUP_ARGS = ["--group-initial-rebalance-delay-ms", "200", "--group-min-session-timeout-ms", "1000"]


def create_topic(broker, name, partitions):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(timeout=30)


def produce(broker, topic, start, count):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for index in range(start, start + count):
        producer.produce(topic, key=f"key-{index}".encode(), value=f"m-{index}".encode())
        producer.poll(0)
    assert producer.flush(60) == 0


class GroupMember:
    def __init__(self, broker, topic, group, name, directory):
        self.log_path = os.path.join(directory, f"{name}.log")
        self.process = subprocess.Popen([sys.executable, os.path.join(HERE, "group_consumer.py"), broker.bootstrap, topic,
                                         group, self.log_path])

    def events(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as handle:
            return [line.rstrip("\n").split(" ", 1) for line in handle if line.strip()]

    def assignment(self):
        current = set()
        for event in self.events():
            if event[0] == "ASSIGN":
                current = {int(p) for p in event[1].split(",") if p} if len(event) > 1 else set()
            elif event[0] == "REVOKE":
                current = set()
        return current

    def processed(self):
        return [tuple(event[1].split(" ", 2)) for event in self.events() if event[0] == "MSG"]

    def committed(self):
        committed = {}
        for event in self.events():
            if event[0] == "COMMIT":
                partition, offset = event[1].split(" ")
                committed[int(partition)] = max(committed.get(int(partition), 0), int(offset))
        return committed

    def failed_commits(self):
        return [event[1].split(" ")[:2] for event in self.events() if event[0] == "COMMITFAIL"]


def wait_for(condition, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return time.time()
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_three_members_share_partitions_and_survive_kill_and_leave(data_dir):
    broker = Broker(data_dir, extra_args=GROUP_ARGS).start()
    create_topic(broker, "orders", 6)
    logs = data_dir + "-members"
    os.makedirs(logs, exist_ok=True)
    members = {name: GroupMember(broker, "orders", "workers", name, logs) for name in ("a", "b", "c")}
    try:
        wait_for(lambda: all(m.assignment() for m in members.values())
                 and sorted(p for m in members.values() for p in m.assignment()) == list(range(6)), 60,
                 "three members to share six partitions")
        # paynode groups list/describe show the group, its members and who owns what.
        listed = paynode("groups", "list", "--bootstrap-servers", broker.bootstrap)
        assert "workers  state=Stable  protocol=range  members=3" in listed
        described = paynode("groups", "describe", "workers", "--topic", "orders", "--bootstrap-servers", broker.bootstrap)
        assert described.splitlines()[0] == "group workers  state=Stable  protocol=range"
        assert sum(1 for line in described.splitlines() if line.strip().startswith("member ")) == 3
        owners = {line.split("owner=")[1].split()[0] for line in described.splitlines() if "owner=" in line}
        assert len(owners) == 3
        produce(broker, "orders", 0, 3000)
        wait_for(lambda: sum(len(m.processed()) for m in members.values()) >= 3000, 60, "the first 3000 messages")

        # SIGKILL c: after the session timeout its partitions move to a and b.
        killed_partitions = members["c"].assignment()
        members["c"].process.send_signal(signal.SIGKILL)
        members["c"].process.wait()
        killed_at = time.time()
        produce(broker, "orders", 3000, 3000)
        moved_at = wait_for(lambda: members["a"].assignment() | members["b"].assignment() == set(range(6)), 30,
                            "c's partitions to move")
        assert moved_at - killed_at >= 3, "c's partitions moved before its session could have expired"
        assert killed_partitions <= members["a"].assignment() | members["b"].assignment()

        # b leaves cleanly: the rebalance is immediate, not after a session timeout.
        wait_for(lambda: len({v for m in members.values() for _, _, v in m.processed()}) >= 6000, 60, "6000 messages")
        members["b"].process.send_signal(signal.SIGTERM)
        left_at = time.time()
        members["b"].process.wait(timeout=30)
        taken_at = wait_for(lambda: members["a"].assignment() == set(range(6)), 30, "a to take every partition")
        assert taken_at - left_at < 3, f"rebalance after a clean leave took {taken_at - left_at:.1f} s"

        produce(broker, "orders", 6000, 3000)
        wait_for(lambda: len({v for m in members.values() for _, _, v in m.processed()}) >= 9000, 60, "all 9000 messages")
        members["a"].process.send_signal(signal.SIGTERM)
        members["a"].process.wait(timeout=30)
    finally:
        for member in members.values():
            if member.process.poll() is None:
                member.process.kill()
        broker.stop()

    # Every message processed; duplicates only where the processing member's commit did not land
    # (c was killed after processing, or a commit failed during a rebalance).
    seen = {}
    for name, member in members.items():
        for partition, offset, value in member.processed():
            seen.setdefault(value, []).append((name, int(partition), int(offset)))
    assert set(seen) == {f"m-{i}" for i in range(9000)}
    excused = {}
    for name, member in members.items():
        committed = member.committed()
        for partition, offset in member.failed_commits():
            excused.setdefault(name, {})[int(partition)] = min(excused.get(name, {}).get(int(partition), 1 << 62), 0)
        excused.setdefault(name, {})
        for partition in range(6):
            if name == "c":
                excused[name][partition] = min(excused[name].get(partition, 1 << 62), committed.get(partition, 0))
    unexplained = []
    for value, deliveries in seen.items():
        if len(deliveries) > 1:
            # All but one delivery must come from a member whose progress on that partition was not committed.
            uncommitted = [d for d in deliveries if d[2] >= excused.get(d[0], {}).get(d[1], 1 << 62)]
            if len(deliveries) - len(uncommitted) > 1:
                unexplained.append((value, deliveries))
    assert not unexplained, f"{len(unexplained)} messages processed twice outside a rebalance window: {unexplained[:3]}"


def test_kafka_python_subscribe_commit_resume(data_dir):
    broker = Broker(data_dir, extra_args=GROUP_ARGS).start()
    create_topic(broker, "kp-group", 3)
    produce(broker, "kp-group", 0, 600)

    def read(consumer, wanted):
        values = []
        deadline = time.time() + 60
        while len(values) < wanted and time.time() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value.decode() for r in records)
        return values

    first = KafkaConsumer("kp-group", bootstrap_servers=broker.bootstrap, group_id="kp", enable_auto_commit=False,
                          auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=500)
    values = read(first, 600)
    assert sorted(values) == sorted(f"m-{i}" for i in range(600))
    first.commit()
    first.close()

    produce(broker, "kp-group", 600, 300)
    second = KafkaConsumer("kp-group", bootstrap_servers=broker.bootstrap, group_id="kp", enable_auto_commit=False,
                           auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=500)
    resumed = read(second, 300)
    second.close()
    assert sorted(resumed) == sorted(f"m-{i}" for i in range(600, 900))
    broker.stop()


def test_kcat_balanced_consumer(data_dir):
    broker = Broker(data_dir, extra_args=GROUP_ARGS).start()
    create_topic(broker, "kcat-group", 3)
    produce(broker, "kcat-group", 0, 300)
    # -e: exit once every assigned partition is read to its end.
    result = subprocess.run(["kcat", "-b", broker.bootstrap, "-G", "kcat-readers", "-o", "beginning", "-e", "-q", "-f", "%s\n",
                             "-X", "session.timeout.ms=6000", "kcat-group"], capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    values = [line for line in result.stdout.splitlines() if line]
    broker.stop()
    assert sorted(values) == sorted(f"m-{i}" for i in range(300))


def test_groups_recover_after_broker_sigkill(data_dir):
    broker = Broker(data_dir, extra_args=GROUP_ARGS).start()
    create_topic(broker, "restart", 3)
    logs = data_dir + "-members"
    os.makedirs(logs, exist_ok=True)
    member = GroupMember(broker, "restart", "survivors", "m", logs)
    try:
        wait_for(lambda: member.assignment() == {0, 1, 2}, 60, "the member's assignment")
        produce(broker, "restart", 0, 1000)
        wait_for(lambda: len(member.processed()) >= 1000, 60, "1000 messages")
        committed_before = member.committed()
        broker.kill()
        time.sleep(1)
        broker.start()
        produce(broker, "restart", 1000, 1000)
        wait_for(lambda: len({v for _, _, v in member.processed()}) >= 2000, 90, "the member to resume after the restart")
        member.process.send_signal(signal.SIGTERM)
        member.process.wait(timeout=30)
    finally:
        if member.process.poll() is None:
            member.process.kill()
        broker.stop()
    values = [v for _, _, v in member.processed()]
    assert set(values) == {f"m-{i}" for i in range(2000)}
    # Committed offsets survived the crash: a message read twice must lie past the last commit
    # made before the kill (the member's uncommitted window), never before it.
    failed = {(int(p), int(o)) for p, o in member.failed_commits()}
    first_seen = {}
    for partition, offset, value in member.processed():
        if value in first_seen:
            first_partition, first_offset = first_seen[value]
            assert first_offset >= committed_before.get(first_partition, 0) or failed, \
                f"{value} at {first_partition}/{first_offset} was re-read although offset {committed_before.get(first_partition)} was committed"
        else:
            first_seen[value] = (int(partition), int(offset))
