"""Kafka-side limits (issue 16, part 4) against real nodes: connection limits, oversized frames,
slow and idle connections, per-request and per-node partition budgets, topic auto-creation in
`service`, and the group size limit. After each hostile case the node is still up and answers
honest requests."""
import json
import socket
import struct
import time
import urllib.request

from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker


def string(value):
    data = value.encode()
    return struct.pack(">h", len(data)) + data


def frame(api_key, version, body, correlation=1):
    payload = struct.pack(">hhi", api_key, version, correlation) + string("limits-test") + body
    return struct.pack(">i", len(payload)) + payload


API_VERSIONS = frame(18, 0, b"")


def read_frame(connection):
    """One response frame, or None when the broker closed the connection."""
    header = b""
    while len(header) < 4:
        chunk = connection.recv(4 - len(header))
        if not chunk:
            return None
        header += chunk
    (size,) = struct.unpack(">i", header)
    body = b""
    while len(body) < size:
        chunk = connection.recv(size - len(body))
        if not chunk:
            return None
        body += chunk
    return body


def closed_within(connection, seconds):
    """True when the broker closes `connection` within `seconds` (reading and dropping bytes)."""
    connection.settimeout(seconds)
    deadline = time.time() + seconds
    try:
        while time.time() < deadline:
            if not connection.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def answers_api_versions(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(API_VERSIONS)
        response = read_frame(connection)
        return response is not None and struct.unpack(">ih", response[:6]) == (1, 0)


def metrics(node):
    with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/metrics", timeout=10) as response:
        return response.read().decode()


def rss_kib(broker):
    with open(f"/proc/{broker.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_connection_limits_close_extra_connections_at_once_and_warn_rarely(data_dir):
    broker = Broker(data_dir, extra_args=["--max-connections", "6", "--max-connections-per-ip", "3"]).start()
    try:
        held = [socket.create_connection(("127.0.0.1", broker.kafka_port), timeout=5) for _ in range(3)]
        for connection in held:
            connection.sendall(API_VERSIONS)
            assert read_frame(connection) is not None
        # A flood of connections over the per-address limit: each is closed at once...
        started = time.time()
        for _ in range(40):
            with socket.create_connection(("127.0.0.1", broker.kafka_port), timeout=5) as extra:
                assert closed_within(extra, 2), "a connection over max-connections-per-ip stayed open"
        assert time.time() - started < 20
        # ...and the log has a handful of warnings, not one per connection.
        warnings = broker.log().count("refused a Kafka connection")
        assert 1 <= warnings <= 10, warnings
        assert 'reason="max-connections-per-ip"} 40' in metrics(broker), "each refusal is counted"
        # A freed slot is usable again, and the held connections still work.
        held.pop().close()
        time.sleep(0.3)
        assert answers_api_versions(broker.kafka_port)
        for connection in held:
            connection.sendall(API_VERSIONS)
            assert read_frame(connection) is not None
            connection.close()
    finally:
        broker.stop()


def test_oversized_frame_closes_without_allocating_it(data_dir):
    broker = Broker(data_dir).start()
    try:
        assert answers_api_versions(broker.kafka_port)
        before = rss_kib(broker)
        for claimed in (0x7FFFFFF0, (8 << 20) + 1):
            with socket.create_connection(("127.0.0.1", broker.kafka_port), timeout=5) as connection:
                connection.sendall(struct.pack(">i", claimed) + b"\x00" * 4096)
                assert closed_within(connection, 3), f"a frame claiming {claimed} bytes did not close the connection"
        # Just under the limit is still a frame (an 8 MiB claim is buffered as it arrives, not upfront).
        assert rss_kib(broker) - before < 64 * 1024, "the broker grew by the claimed frame size"
        assert "exceeds the maximum of 8388608" in broker.log()
        assert answers_api_versions(broker.kafka_port)
    finally:
        broker.stop()


def test_slow_request_is_closed_after_the_read_timeout_and_idle_after_the_idle_timeout(data_dir):
    broker = Broker(data_dir, extra_args=["--request-read-timeout-ms", "1000", "--connections-max-idle-ms", "3000"]).start()
    try:
        slow = socket.create_connection(("127.0.0.1", broker.kafka_port), timeout=5)
        idle = socket.create_connection(("127.0.0.1", broker.kafka_port), timeout=5)
        started = time.time()
        slow.sendall(API_VERSIONS[:6])
        closed = False
        # Trickle one byte every 200 ms: activity, but the request never completes.
        for byte in API_VERSIONS[6:-1]:
            time.sleep(0.2)
            try:
                slow.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if time.time() - started > 4:
                break
        closed = closed or closed_within(slow, 1.5)
        slow_elapsed = time.time() - started
        assert closed, "a slowloris connection stayed open"
        assert 0.9 <= slow_elapsed < 4.5, slow_elapsed
        # The idle connection outlives the request timeout but not the idle one.
        assert closed_within(idle, 6), "an idle connection stayed open"
        idle_elapsed = time.time() - started
        assert 2.9 <= idle_elapsed < 7, idle_elapsed
        assert "request did not arrive completely" in broker.log()
        assert answers_api_versions(broker.kafka_port)
    finally:
        broker.stop()


def test_pipelined_requests_beyond_the_in_flight_limit_are_all_answered_in_order(data_dir):
    broker = Broker(data_dir, extra_args=["--max-in-flight-requests", "2"]).start()
    try:
        with socket.create_connection(("127.0.0.1", broker.kafka_port), timeout=10) as connection:
            connection.sendall(b"".join(frame(18, 0, b"", correlation=index) for index in range(50)))
            correlations = [struct.unpack(">i", read_frame(connection)[:4])[0] for _ in range(50)]
        assert correlations == list(range(50))
    finally:
        broker.stop()


def join_group_v4(group, correlation, metadata=b"meta"):
    body = string(group) + struct.pack(">ii", 10000, 30000) + string("") + string("consumer") + \
        struct.pack(">i", 1) + string("range") + struct.pack(">i", len(metadata)) + metadata
    return frame(11, 4, body, correlation)


def join_error(connection, group, correlation, metadata=b"meta"):
    connection.sendall(join_group_v4(group, correlation, metadata))
    return struct.unpack(">iih", read_frame(connection)[:10])[2]


def test_member_metadata_and_group_count_limits(data_dir):
    broker = Broker(data_dir, extra_args=["--group-max-member-metadata-bytes", "100", "--max-groups", "2"]).start()
    try:
        with socket.create_connection(("127.0.0.1", broker.kafka_port), timeout=10) as connection:
            assert join_error(connection, "g1", 1, metadata=b"x" * 200) == 42  # INVALID_REQUEST
            assert join_error(connection, "g1", 2, metadata=b"x" * 90) == 79
            assert join_error(connection, "g2", 3) == 79
            assert join_error(connection, "g3", 4) == 44  # POLICY_VIOLATION: a third group
        # A commit creating a third group is refused too; the admitted groups still commit.
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("t", 1, 1)])["t"].result(timeout=30)
        fill(broker.bootstrap, "t")
        try:
            commit(broker.bootstrap, "g4", "t", 1)
            raise AssertionError("a commit for a group past --max-groups was accepted")
        except Exception as error:  # noqa: BLE001 - KafkaException
            assert "POLICY_VIOLATION" in str(error), error
        commit(broker.bootstrap, "g2", "t", 1)
        assert committed(broker.bootstrap, "g2", "t") == 1
        assert "refused a new consumer group" in broker.log()
    finally:
        broker.stop()


def test_group_size_limit_refuses_the_extra_member(data_dir):
    broker = Broker(data_dir, extra_args=["--group-max-size", "2"]).start()
    try:
        codes = []
        with socket.create_connection(("127.0.0.1", broker.kafka_port), timeout=10) as connection:
            for index in range(3):
                connection.sendall(join_group_v4("limited", index))
                response = read_frame(connection)
                codes.append(struct.unpack(">iih", response[:10])[2])
            connection.sendall(join_group_v4("another", 9))
            other = struct.unpack(">iih", read_frame(connection)[:10])[2]
        # Two first joins get member ids (MEMBER_ID_REQUIRED, 79), the third GROUP_MAX_SIZE_REACHED (81).
        assert codes == [79, 79, 81]
        assert other == 79
        assert "the group is full" in broker.log()
    finally:
        broker.stop()


def test_create_topics_limits_per_topic_and_per_request(data_dir):
    broker = Broker(data_dir, extra_args=["--max-partitions-per-topic", "10", "--max-partitions-per-request", "15"]).start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        futures = admin.create_topics([NewTopic("too-wide", 11, 1), NewTopic("first", 8, 1), NewTopic("second", 8, 1)])
        errors = {}
        for name, future in futures.items():
            try:
                future.result(timeout=30)
                errors[name] = None
            except Exception as error:  # noqa: BLE001 - KafkaException carries the KafkaError
                errors[name] = error.args[0]
        assert errors["first"] is None
        assert errors["too-wide"].code() == 37 and "most a topic may have" in errors["too-wide"].str()
        assert errors["second"].code() == 44 and "more than 15 partitions" in errors["second"].str()
        assert set(admin.list_topics(timeout=10).topics) >= {"first"}
        assert "second" not in admin.list_topics(timeout=10).topics
    finally:
        broker.stop()


def post_order(port, key):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/payment-orders", method="POST",
        data=json.dumps({"merchantId": "m_1", "amount": 5000, "currency": "EUR", "paymentMethod": "tok_visa",
                         "psp": "stripe"}).encode(),
        headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_service_partition_budget_keeps_payments_working_and_auto_create_is_off(data_dir):
    service = Broker(data_dir, node="service").start()
    try:
        admin = AdminClient({"bootstrap.servers": service.bootstrap})
        # Auto-creation is off in service: asking for an unknown topic creates nothing.
        metadata = admin.list_topics(topic="not-created-by-asking", timeout=10)
        assert metadata.topics["not-created-by-asking"].error is not None
        assert "not-created-by-asking" not in admin.list_topics(timeout=10).topics
        # Spend the whole default partition budget (3994 = 4096 less 6 core tables and 96 reserved, less the pipeline's own) in 1000-partition topics.
        created, refused = 0, None
        for index in range(5):
            name = f"hog-{index}"
            try:
                admin.create_topics([NewTopic(name, 1000, 1)], request_timeout=60)[name].result(timeout=120)
                created += 1
            except Exception as error:  # noqa: BLE001
                refused = error.args[0]
                break
        assert created == 3 and refused is not None, (created, refused)
        assert refused.code() == 37 and "maximumPartitions" in refused.str()
        # What is left of the budget still goes to whoever asks, to the last partition...
        topics = admin.list_topics(timeout=10).topics
        left = 3994 - sum(len(topic.partitions) for topic in topics.values())
        assert left > 0
        # validate_only checks the budget as creating would, and spends none of it.
        try:
            admin.create_topics([NewTopic("too-big", left + 1, 1)], validate_only=True)["too-big"].result(timeout=60)
            raise AssertionError("validate_only accepted a topic beyond the partition budget")
        except Exception as error:  # noqa: BLE001
            assert error.args[0].code() == 37 and "maximumPartitions" in error.args[0].str(), error
        admin.create_topics([NewTopic("fits", left, 1)], validate_only=True)["fits"].result(timeout=60)
        assert "fits" not in admin.list_topics(timeout=10).topics
        admin.create_topics([NewTopic("last", left, 1)])["last"].result(timeout=60)
        # ...and the node's own tables still open: a payment POST answers 201.
        assert post_order(service.http_port, "after-budget-1") == 201
        assert post_order(service.http_port, "after-budget-2") == 201
        assert answers_api_versions(service.kafka_port)
    finally:
        service.stop()


def committed(bootstrap, group, topic, partition=0):
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return consumer.committed([TopicPartition(topic, partition)], timeout=10)[0].offset
    finally:
        consumer.close()


def fill(bootstrap, topic, count=10, partition=0):
    """Records to commit positions in: a committed offset must lie within the log."""
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap})
    for index in range(count):
        producer.produce(topic, value=b"%d" % index, partition=partition)
    assert producer.flush(30) == 0


def commit(bootstrap, group, topic, offset, partition=0):
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)
    finally:
        consumer.close()


def test_idle_empty_groups_expire_durably_and_active_ones_stay(data_dir):
    args = ["--offsets-retention-ms", "1500", "--offsets-retention-check-interval-ms", "200"]
    broker = Broker(data_dir, extra_args=args).start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("kept", 1, 1)])["kept"].result(timeout=30)
        fill(broker.bootstrap, "kept")
        commit(broker.bootstrap, "stale", "kept", 5)
        commit(broker.bootstrap, "fresh", "kept", 7)
        assert committed(broker.bootstrap, "stale", "kept") == 5
        deadline = time.time() + 15
        while time.time() < deadline and committed(broker.bootstrap, "stale", "kept") == 5:
            commit(broker.bootstrap, "fresh", "kept", 7)  # activity keeps "fresh"
            time.sleep(0.3)
        assert committed(broker.bootstrap, "stale", "kept") < 0, "an idle empty group did not expire"
        assert committed(broker.bootstrap, "fresh", "kept") == 7
        assert "expired idle consumer groups" in broker.log()
        # The deletion is in the store: a restart does not bring the group back.
        broker.stop()
        broker.extra_args = []
        broker.start()
        assert committed(broker.bootstrap, "stale", "kept") < 0
        assert committed(broker.bootstrap, "fresh", "kept") == 7
    finally:
        broker.stop()


def test_service_never_expires_its_own_group(data_dir):
    from confluent_kafka import Producer
    service = Broker(data_dir, node="service",
                     extra_args=["--offsets-retention-ms", "500", "--offsets-retention-check-interval-ms", "100"]).start()
    try:
        producer = Producer({"bootstrap.servers": service.bootstrap, "enable.idempotence": True})  # results come from idempotent producers, as the executor's
        producer.produce("psp-result-updates", key=b"junk", value=b"\xff not protobuf", partition=0)
        assert producer.flush(30) == 0
        deadline = time.time() + 20
        while time.time() < deadline and committed(service.bootstrap, "payment-service", "psp-result-updates") < 1:
            time.sleep(0.2)
        assert committed(service.bootstrap, "payment-service", "psp-result-updates") == 1
        # A downstream reader's group (on the dead letters, which readers may read) expires.
        commit(service.bootstrap, "outsider", "psp-result-updates.dlq", 1)
        deadline = time.time() + 15
        while time.time() < deadline and committed(service.bootstrap, "outsider", "psp-result-updates.dlq") >= 0:
            time.sleep(0.3)
        assert committed(service.bootstrap, "outsider", "psp-result-updates.dlq") < 0
        # Several passes later, payment-service still has its offset.
        time.sleep(1)
        assert committed(service.bootstrap, "payment-service", "psp-result-updates") == 1
        assert post_order(service.http_port, "after-expiry") == 201
    finally:
        service.stop()


def read_string(data, at):
    (length,) = struct.unpack_from(">h", data, at)
    at += 2
    if length < 0:
        return None, at
    return data[at:at + length].decode(), at + length


def test_requests_naming_too_many_partitions_or_topics_are_refused(data_dir):
    broker = Broker(data_dir, extra_args=["--max-partitions-per-request", "3", "--max-topics-per-request", "2"]).start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("wide", 3, 1)])["wide"].result(timeout=30)
        # Produce v3 naming 4 partitions (null record sets): every partition INVALID_REQUEST (42).
        partitions = b"".join(struct.pack(">ii", index, -1) for index in range(4))
        produce = struct.pack(">hhi", -1, 1, 5000) + struct.pack(">i", 1) + string("wide") + struct.pack(">i", 4) + partitions
        # Metadata v1 naming 3 distinct topics (one twice): the broker auto-creates the second
        # (v1 cannot say no), the third is INVALID_REQUEST and is neither looked up nor created.
        names = ["wide", "wide", "missing-a", "missing-b"]
        metadata = struct.pack(">i", len(names)) + b"".join(string(name) for name in names)
        with socket.create_connection(("127.0.0.1", broker.kafka_port), timeout=10) as connection:
            connection.sendall(frame(0, 3, produce, correlation=3))
            response = read_frame(connection)
            at = 4 + 4  # correlation id, topic count
            name, at = read_string(response, at)
            (count,) = struct.unpack_from(">i", response, at)
            at += 4
            codes = []
            for _ in range(count):
                codes.append(struct.unpack_from(">ih", response, at)[1])
                at += 4 + 2 + 8 + 8
            assert name == "wide" and codes == [42, 42, 42, 42]

            # Fetch v4 naming 4 partitions: refused before reading, first partition INVALID_REQUEST.
            fetch_partitions = b"".join(struct.pack(">iqqi", index, 0, -1, 1 << 20) for index in range(4))
            fetch = struct.pack(">iiiib", -1, 0, 1, 1 << 20, 0) + struct.pack(">i", 1) + string("wide") + \
                struct.pack(">i", 4) + fetch_partitions
            connection.sendall(frame(1, 4, fetch, correlation=5))
            response = read_frame(connection)
            at = 4 + 4 + 4  # correlation id, throttle time, topic count
            name, at = read_string(response, at)
            (count, first_partition, first_error) = struct.unpack_from(">iih", response, at)
            assert (name, count, first_partition, first_error) == ("wide", 4, 0, 42)

            connection.sendall(frame(3, 1, metadata, correlation=4))
            response = read_frame(connection)
            at = 4
            (brokers,) = struct.unpack_from(">i", response, at)
            at += 4
            for _ in range(brokers):
                at += 4
                _, at = read_string(response, at)
                at += 4
                _, at = read_string(response, at)
            at += 4  # controller id
            (topics,) = struct.unpack_from(">i", response, at)
            at += 4
            answered = {}
            for _ in range(topics):
                (error,) = struct.unpack_from(">h", response, at)
                name, at = read_string(response, at + 2)
                at += 1
                (partition_count,) = struct.unpack_from(">i", response, at)
                at += 4
                for _ in range(partition_count):
                    at += 2 + 4 + 4
                    for _ in range(2):  # replicas, isr
                        (nodes,) = struct.unpack_from(">i", response, at)
                        at += 4 + 4 * nodes
                answered[name] = (error, partition_count)
        assert answered == {"wide": (0, 3), "missing-a": (0, 3), "missing-b": (42, 0)}
        # Nothing was stored, no topic was created, and honest requests still work.
        assert "missing-b" not in admin.list_topics(timeout=10).topics
        assert "refused an oversized request" in broker.log()
        assert answers_api_versions(broker.kafka_port)
    finally:
        broker.stop()


def test_a_client_that_stops_reading_responses_is_closed_as_idle(data_dir):
    from confluent_kafka import Producer
    broker = Broker(data_dir, extra_args=["--connections-max-idle-ms", "1500"]).start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("big", 1, 1)])["big"].result(timeout=30)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
        for index in range(10):
            producer.produce("big", value=bytes([index]) * 900_000)
        assert producer.flush(30) == 0
        fetch = struct.pack(">iiiib", -1, 0, 1, 8 << 20, 0) + struct.pack(">i", 1) + string("big") + \
            struct.pack(">i", 1) + struct.pack(">iqqi", 0, 0, -1, 8 << 20)
        requests = 30
        connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.connect(("127.0.0.1", broker.kafka_port))
        with connection:
            connection.sendall(b"".join(frame(1, 4, fetch, correlation=index) for index in range(requests)))
            # Never read while the broker has ~27 MB of responses to send (each Fetch answers
            # at least the first 900 kB batch)...
            time.sleep(4)
            # ...then drain: a connection closed as idle ends (EOF) before all of them arrived;
            # one kept open delivers everything and then goes quiet.
            received, ended = 0, False
            connection.settimeout(5)
            try:
                while True:
                    chunk = connection.recv(1 << 20)
                    if not chunk:
                        ended = True
                        break
                    received += len(chunk)
            except ConnectionResetError:
                ended = True
            except socket.timeout:
                pass
        assert ended, "the stalled connection stayed open"
        assert received < requests * 900_000, f"the broker delivered everything ({received} bytes) before closing"
        assert "closing idle Kafka connection" in broker.log()
        assert answers_api_versions(broker.kafka_port)
    finally:
        broker.stop()
