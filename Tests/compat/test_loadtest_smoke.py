"""`loadtest` smoke scenarios (issue 7), against the debug build `make test` produced.

1. About 30 s of orders at a fixed rate while the service and the executor are each SIGKILLed and
   restarted, and the fault proxy between them adds latency, jitter, connection resets and
   blackhole windows. The checker must pass (exit 0) and the JSON result must show the faults
   really happened and every order completed.
2. The pipeline mode at full speed (results pre-encoded, sent as large idempotent batches) with
   the service SIGKILLed while results arrive: every order's results are applied once.
3. The checker is not a rubber stamp: poison records that nobody declared end up in the DLQ, and
   the run fails with exit 1 naming the violation; declared (`--expect-dead-letters`) they pass.
4. `--cluster-security sasl_ssl` (issue 17): a small run of each mode against a SASL_SSL cluster
   where nobody is anonymous, so the mode the SASL cost is measured with keeps working.
"""
import json
import os
import stat
import subprocess

from conftest import PAYNODE, paynode

LOADTEST = os.environ.get("LOADTEST_BIN", os.path.join(os.path.dirname(PAYNODE), "loadtest"))


def run_loadtest(tmp_path, *args, timeout=400):
    assert os.path.exists(LOADTEST), f"{LOADTEST} is not built: run `swift build --build-tests` (make test does)"
    result_path = tmp_path / "result.json"
    process = subprocess.run(
        [LOADTEST, "--paynode", PAYNODE, "--work-dir", str(tmp_path / "run"), "--output", str(result_path), *args],
        capture_output=True, text=True, timeout=timeout)
    result = json.loads(result_path.read_text()) if result_path.exists() else None
    return process, result


def test_kills_of_both_nodes_and_the_fault_proxy_keep_every_promise(tmp_path):
    rate, duration = 150, 24
    process, result = run_loadtest(
        tmp_path, "--rate", str(rate), "--duration", str(duration),
        "--kill", "service,executor", "--kill-interval", "3-5",
        "--proxy-latency-ms", "2", "--proxy-jitter-ms", "3",
        "--proxy-reset-interval", "5-8", "--proxy-blackhole-interval", "6-9", "--proxy-blackhole-ms", "500",
        "--drain-timeout", "150")
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert result is not None and result["passed"], output[-4000:]
    assert "PASSED" in process.stdout

    # Every order offered was accepted once and reached its terminal state.
    assert result["ordersAccepted"] == rate * duration
    assert result["ordersFailed"] == 0
    assert result["completed"] == result["ordersAccepted"]
    check = result["check"]
    assert check["violations"] == [] and check["ordersChecked"] == result["ordersAccepted"]
    assert check["groupLag"] == 0 and check["deadLetters"] == 0
    assert check["paymentEventRecords"] == result["ordersAccepted"]
    # Exactly once in the log too: re-sent results were deduplicated by the broker, and every
    # order's audit trail matches its history.
    assert check["duplicateResultRecords"] == 0, check
    assert check["auditTrail"].startswith(f"checked: {result['ordersAccepted']} of {result['ordersAccepted']}"), check

    # The faults were real: both nodes died and came back, the proxy reset and blackholed.
    assert result["restarts"].get("service", 0) >= 2 and result["restarts"].get("executor", 0) >= 2, result["restarts"]
    assert len(result["recoverySeconds"]["service"]) >= 2
    assert result["proxy"]["resets"] >= 1 and result["proxy"]["blackholes"] >= 1, result["proxy"]
    assert result["proxy"]["accepted"] > 1  # the executor reconnected through the proxy

    # The report: latency percentiles in order, resources sampled, a chart written.
    latency = result["latency"]
    assert latency["count"] == result["completed"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["p999"] <= latency["max"]
    assert {node["node"] for node in result["nodes"]} == {"service", "executor", "loadtest"}
    assert all(node["maxRSSMegabytes"] > 0 and node["cpuSeconds"] > 0 for node in result["nodes"])
    chart = (tmp_path / "result.svg").read_text()
    assert chart.startswith("<svg") and "polyline" in chart


def test_the_pipeline_mode_at_full_speed_survives_service_kills(tmp_path):
    orders = 12000
    process, result = run_loadtest(
        tmp_path, "--mode", "pipeline", "--orders", str(orders), "--duration", "30",
        "--tokens", "tok_visa=60,tok_pending=20,tok_chargeDeclined=20",
        "--kill", "service", "--kill-interval", "0.3-0.6", "--drain-timeout", "120")
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert result is not None and result["passed"], output[-4000:]
    assert result["ordersAccepted"] == orders and result["completed"] == orders
    check = result["check"]
    assert check["violations"] == [] and check["ordersChecked"] == orders
    assert check["groupLag"] == 0 and check["deadLetters"] == 0
    # tok_pending orders get two results (PENDING, then SUCCESSFUL): each in the log once.
    assert check["duplicateResultRecords"] == 0, check
    assert check["paymentEventRecords"] == orders


def test_undeclared_poison_in_the_dlq_fails_the_run_and_declared_poison_passes(tmp_path):
    process, result = run_loadtest(tmp_path / "undeclared", "--rate", "100", "--duration", "3", "--inject-poison", "3")
    assert process.returncode == 1, process.stdout + process.stderr
    assert "VIOLATION dead-letters" in process.stdout
    assert result["check"]["deadLetters"] == 3 and not result["passed"]

    process, result = run_loadtest(tmp_path / "declared", "--rate", "100", "--duration", "3", "--inject-poison", "3",
                                   "--expect-dead-letters")
    assert process.returncode == 0, process.stdout + process.stderr
    assert result["check"]["deadLetters"] == 3 and result["passed"]


def test_the_full_flow_at_full_speed_survives_service_kills(tmp_path):
    """As fast as possible the orders go through `PipelinedOrderDriver` (no task per request):
    requests in flight when the service dies are sent again with the same key."""
    process, result = run_loadtest(
        tmp_path, "--duration", "8", "--concurrency", "64", "--connections", "8",
        "--tokens", "tok_visa=70,tok_chargeDeclined=30",
        "--kill", "service", "--kill-interval", "1.5-2.5", "--drain-timeout", "120")
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert result is not None and result["passed"], output[-4000:]
    assert result["ordersFailed"] == 0 and result["ordersAccepted"] > 500, output[-4000:]
    assert result["completed"] == result["ordersAccepted"]
    assert result["requestRetries"] > 0, result  # requests were cut off by the kills and sent again
    assert result["restarts"].get("service", 0) >= 2, result["restarts"]
    check = result["check"]
    assert check["violations"] == [] and check["ordersChecked"] == result["ordersAccepted"]
    assert check["duplicateResultRecords"] == 0 and check["paymentEventRecords"] == result["ordersAccepted"]


def test_a_sasl_ssl_cluster_authenticates_every_client_in_both_modes(tmp_path):
    """The listener takes no request before SCRAM, so a passing run means the executor and every
    client of loadtest's logged in; results count only from User:executor's producer ids, so the
    pipeline's orders completing (no dead letters) means its producer logged in as the executor."""
    runs = {
        "pipeline": ["--mode", "pipeline", "--orders", "2000", "--duration", "20", "--inject-poison", "2", "--expect-dead-letters"],
        "full": ["--rate", "100", "--duration", "4", "--kill", "executor", "--kill-interval", "1.5-2.5"],
    }
    for mode, args in runs.items():
        directory = tmp_path / mode
        process, result = run_loadtest(directory, "--cluster-security", "sasl_ssl", "--drain-timeout", "120", *args)
        output = process.stdout + process.stderr
        assert process.returncode == 0, output[-4000:]
        assert result is not None and result["passed"], output[-4000:]
        assert result["ordersAccepted"] > 0 and result["completed"] == result["ordersAccepted"], result
        check = result["check"]
        assert check["violations"] == [] and check["groupLag"] == 0, check
        assert check["paymentEventRecords"] == result["ordersAccepted"], check
        # The poison came from the executor's producer: dead-lettered for not decoding.
        assert check["deadLetters"] == (2 if mode == "pipeline" else 0), check

        # How the nodes were started: SASL_SSL, the payment API over HTTPS, no anonymous principal.
        service_log = (directory / "run" / "logs" / "service.log").read_text()
        start = next(line for line in service_log.splitlines() if "loadtest: service start 1:" in line)
        assert "--kafka-security-protocol SASL_SSL" in start and "--http-tls" in start, start
        assert "--executor-principal User:executor --super-users User:loadtest" in start, start
        assert "ANONYMOUS" not in service_log
        if mode == "full":
            executor_log = (directory / "run" / "logs" / "executor.log").read_text()
            assert "--sasl-username executor" in executor_log and "--kafka-security-protocol SASL_SSL" in executor_log
            assert result["restarts"].get("executor", 0) >= 1, result["restarts"]  # and logged in again after each kill
        # Both users are in the service's store; their passwords only in 0600 files.
        users = paynode("users", "list", "--data-dir", str(directory / "run" / "service"))
        assert "executor" in users and "loadtest" in users, users
        for user in ("executor", "loadtest"):
            password_file = directory / "run" / "credentials" / f"{user}.password"
            assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
            assert password_file.read_text().strip() not in service_log


def test_http2_client_mode_over_h2c_and_h2(tmp_path):
    """`--http2`: orders over h2c with prior knowledge, and over h2 by ALPN with `--tls`; every
    order accepted once and completed, the checker passes."""
    for name, extra in [("h2c", []), ("h2", ["--tls"])]:
        rate, duration = 40, 3
        process, result = run_loadtest(tmp_path / name, "--http2", "--rate", str(rate), "--duration", str(duration),
                                       "--connections", "2", "--concurrency", "16", *extra)
        output = process.stdout + process.stderr
        assert process.returncode == 0, output[-4000:]
        assert result is not None and result["passed"], output[-4000:]
        assert result["ordersAccepted"] == rate * duration and result["ordersFailed"] == 0
        assert result["completed"] == result["ordersAccepted"]
