"""The service's audit trail end to end: results produced by a real Kafka client land in the
hash-chained audit log, `GET /v1/payment-orders/{id}/audit` lists an order's entries, and
`paynode audit verify` accepts the stopped node's data directory but names the entry whose bytes
were changed in a copy of it."""
import os
import re
import shutil
import subprocess

from confluent_kafka import Producer

from conftest import PAYNODE, Broker
from test_payment_service import SCHEMA_HEADERS, Api, psp_result, wait_for


def verify(data_dir):
    return subprocess.run([PAYNODE, "audit", "verify", "--data-dir", data_dir], capture_output=True, text=True, timeout=60)


def tamper(data_dir, sequence):
    """Changes one character inside audit entry `sequence` wherever its bytes are in the LMDB
    file (also in stale page copies, so the live one is surely hit). The entry is found by
    `"sequence":N,"sourceOffset"`, which only audit entries hold; the character changed is the
    last hex digit of its recordSha256, just before, so the JSON stays valid. Returns the count."""
    path = os.path.join(data_dir, "data.mdb")
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    marker = f'","sequence":{sequence},"sourceOffset"'.encode()
    found = [match.start() for match in re.finditer(re.escape(marker), data)]
    for start in found:
        digit = start - 1
        data[digit] = ord("0") if data[digit] != ord("0") else ord("1")
    with open(path, "wb") as handle:
        handle.write(data)
    return len(found)


def test_audit_trail_api_and_verify(data_dir):
    node = Broker(data_dir, node="service").start()
    api = Api(node.http_port)
    try:
        orders = [api.create(f"audit-{index}")[2] for index in range(4)]
        producer = Producer({"bootstrap.servers": node.bootstrap, "enable.idempotence": True})
        for order in orders:
            for _ in range(2):  # applied, then duplicate
                producer.produce("psp-result-updates", key=order["paymentOrderId"].encode(),
                                 value=psp_result(order["paymentOrderId"], "SUCCESSFUL", "pi_audit"), headers=SCHEMA_HEADERS)
        producer.produce("psp-result-updates", key=b"junk", value=b"\xff\x00garbage")
        assert producer.flush(30) == 0

        def audit(order):
            return api.call("GET", f"/v1/payment-orders/{order['paymentOrderId']}/audit")

        wait_for(lambda: all(len(audit(order)[2]["entries"]) == 2 for order in orders), 30, "two audit entries per order")
        status, _, view = audit(orders[0])
        assert status == 200 and view["paymentOrderId"] == orders[0]["paymentOrderId"]
        assert [entry["outcome"] for entry in view["entries"]] == ["applied", "duplicate"]
        first = view["entries"][0]
        assert first["pspStatus"] == "SUCCESSFUL" and first["pspReference"] == "pi_audit"
        assert first["sourceTopic"] == "psp-result-updates" and len(first["hash"]) == 64 and len(first["recordSha256"]) == 64
        assert api.call("GET", "/v1/payment-orders/01a20a1d-1df5-7000-82b1-4b8a7559036f/audit")[0] == 404
        assert api.call("GET", "/v1/payment-orders/nonsense/audit")[0] == 404
    finally:
        assert node.stop() == 0

    # The untouched directory verifies: 4 orders x 2 results + 1 dead letter.
    good = verify(data_dir)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "audit chain OK: 9 entries" in good.stdout, good.stdout
    head = re.search(r"head hash ([0-9a-f]{64})", good.stdout).group(1)
    assert subprocess.run([PAYNODE, "audit", "verify", "--data-dir", data_dir, "--expect-head", head],
                          capture_output=True, timeout=60).returncode == 0
    wrong = subprocess.run([PAYNODE, "audit", "verify", "--data-dir", data_dir, "--expect-head", "0" * 64],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 1 and "MISMATCH" in wrong.stdout

    # A copy with one entry's bytes changed fails, naming that entry.
    copy = data_dir + "-tampered"
    shutil.copytree(data_dir, copy)
    target = view["entries"][1]["sequence"]
    assert tamper(copy, target) >= 1
    bad = verify(copy)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"BROKEN at entry {target}:" in bad.stdout and "hash mismatch" in bad.stdout, bad.stdout
    # The original is untouched and still verifies.
    assert verify(data_dir).returncode == 0
