"""Writes the seed corpus for scripts/fuzz.sh (Tests/fuzz/corpus/<target>/): valid requests and
batches for the fuzzer to mutate. Re-run after adding a seed; the output is committed."""
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(__file__), "corpus")


def string(value):
    data = value.encode()
    return struct.pack(">h", len(data)) + data


def varint(value):
    value = (value << 1) ^ (value >> 63)
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def batch(values, attributes=0):
    records = b""
    for index, value in enumerate(values):
        body = b"\x00" + varint(0) + varint(index) + varint(1) + b"k" + varint(len(value)) + value + varint(1) + \
            varint(len(b"h")) + b"h" + varint(1) + b"v"
        records += varint(len(body)) + body
    if attributes & 7 == 1:
        records = zlib.compress(records, wbits=31)
    after_crc = struct.pack(">hiqqqhii", attributes, len(values) - 1, 1000, 1000, -1, -1, -1, len(values)) + records
    header = struct.pack(">ib", 0, 2) + struct.pack(">I", crc32c(after_crc))
    return struct.pack(">qi", 0, len(header) + len(after_crc)) + header + after_crc


def request(api_key, version, body):
    return struct.pack(">hhi", api_key, version, 7) + string("seed") + body


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as file:
        file.write(data)


plain = batch([b"one", b"two", b"three"])
gzipped = batch([b"one", b"two"], attributes=1)
produce = struct.pack(">hi", -1, 5000) + struct.pack(">i", 1) + string("t") + struct.pack(">i", 1) + \
    struct.pack(">i", 0) + struct.pack(">i", len(plain)) + plain
fetch = struct.pack(">iiiib", -1, 100, 1, 1 << 20, 0) + struct.pack(">i", 1) + string("t") + \
    struct.pack(">i", 1) + struct.pack(">iqqi", 0, 0, -1, 1 << 20)
requests = {
    "produce-v3": request(0, 3, struct.pack(">h", -1) + produce),
    "produce-v8": request(0, 8, struct.pack(">h", -1) + produce),
    "fetch-v4": request(1, 4, fetch),
    "list-offsets-v2": request(2, 2, struct.pack(">ib", -1, 0) + struct.pack(">i", 1) + string("t") +
                               struct.pack(">i", 1) + struct.pack(">iq", 0, -2)),
    "metadata-v4": request(3, 4, struct.pack(">i", 1) + string("t") + struct.pack(">b", 0)),
    "offset-commit-v2": request(8, 2, string("g") + struct.pack(">i", -1) + string("") + struct.pack(">q", -1) +
                                struct.pack(">i", 1) + string("t") + struct.pack(">i", 1) +
                                struct.pack(">iq", 0, 5) + string("")),
    "offset-fetch-v3": request(9, 3, string("g") + struct.pack(">i", 1) + string("t") + struct.pack(">ii", 1, 0)),
    "find-coordinator-v2": request(10, 2, string("g") + struct.pack(">b", 0)),
    "join-group-v5": request(11, 5, string("g") + struct.pack(">ii", 10000, 30000) + string("") + struct.pack(">h", -1) +
                             string("consumer") + struct.pack(">i", 1) + string("range") + struct.pack(">i", 4) + b"meta"),
    "describe-groups-v4": request(15, 4, struct.pack(">i", 2) + string("g") + string("g") + struct.pack(">b", 0)),
    "api-versions-v2": request(18, 2, b""),
    "create-topics-v4": request(19, 4, struct.pack(">i", 1) + string("t") + struct.pack(">ih", 3, 1) +
                                struct.pack(">ii", 0, 0) + struct.pack(">ib", 5000, 0)),
    "init-producer-id-v1": request(22, 1, string("") + struct.pack(">i", 60000)),
    "sasl-handshake-v1": request(17, 1, string("SCRAM-SHA-256")),
    "sasl-authenticate-v1": request(36, 1, struct.pack(">i", 32) + b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
}
for name, data in requests.items():
    write("kafka-request", name, data)
    write("kafka-frames", name, struct.pack(">i", len(data)) + data)
write("kafka-frames", "two-frames", b"".join(struct.pack(">i", len(d)) + d for d in list(requests.values())[:2]))
write("record-batch", "plain", plain)
write("record-batch", "gzip", gzipped)
write("record-batch", "two-batches", plain + gzipped)
write("event", "empty", b"")
write("event", "psp-result", b"\x0a\x05po_01\x10\x01\x1a\x06pi_123")
write("event", "batch", plain)
write("order-json", "valid", b'{"merchantId":"m_1","amount":5000,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}')
write("order-json", "nested", b'{"merchantId":"m_1","amount":1,"currency":"EUR","paymentMethod":"tok_visa","psp":"adyen",'
      b'"metadata":{"a":[1,2,{"b":"\\u00e9\\n"}],"c":null,"d":true,"e":-1.5e3}}')
write("order-json", "refund", b'{"amount":1500,"reason":"requested_by_customer"}')
write("event", "refund-result", b"\x0a\x27" + b"01a20a1d-1df5-7000-82b1-4b8a7559036f-r1" + b"\x12\x24" + b"01a20a1d-1df5-7000-82b1-4b8a7559036f" + b"\x18\x01")
write("stored-records", "refund", b'{"amount":100,"createdAt":1,"currency":"EUR","idempotencyKey":"k","refundId":"x-r1","requestSha256":"00","resultCount":0,"seenFailed":0,"seenPending":0,"seenSuccessful":0,"status":"PENDING","updatedAt":1}')
write("webhook", "stripe-refund", b'{"id":"evt_3","type":"refund.updated","created":1700000000,"data":{"object":{"id":"re_1","status":"succeeded","metadata":{"refund_id":"01a20a1d-1df5-7000-82b1-4b8a7559036f-r1"}}}}')
write("webhook", "adyen-refund", b'{"live":"false","notificationItems":[{"NotificationRequestItem":{"amount":{"currency":"EUR","value":300},"eventCode":"REFUND","merchantAccountCode":"Shop","merchantReference":"01a20a1d-1df5-7000-82b1-4b8a7559036f-r2","originalReference":"P1","pspReference":"RF2","success":"true"}}]}')
write("stored-records", "idempotency-sized", bytes(range(57)))
write("stored-records", "json-attempt", b'{"paymentOrderId":"po","attempts":1}')
write("stored-records", "binary", b"\x01" + bytes(range(64)))
write("webhook", "adyen-authorisation", b'{"live":"false","notificationItems":[{"NotificationRequestItem":{"additionalData":{"hmacSignature":"ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="},"amount":{"currency":"EUR","value":1000},"eventCode":"AUTHORISATION","eventDate":"2026-12-01T10:00:00+01:00","merchantAccountCode":"merchantAccount","merchantReference":"reference","originalReference":"originalReference","pspReference":"pspReference","success":"true"}}]}')
write("webhook", "stripe-failed", b'{"id":"evt_2","type":"payment_intent.payment_failed","created":1700000000,"data":{"object":{"id":"pi_2","last_payment_error":{"code":"card_declined","decline_code":"insufficient_funds","message":"no"}}}}')
write("webhook", "stripe-signature", b't=1700000000,v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31,v0=abc')
write("webhook", "stripe-succeeded", b'{"id":"evt_1","type":"payment_intent.succeeded","created":1700000000,"data":{"object":{"id":"pi_1","status":"succeeded","metadata":{"payment_order_id":"01a20a1d-1df5-7000-82b1-4b8a7559036f"}}}}')
