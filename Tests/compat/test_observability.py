"""Observability against a real Prometheus server (Debian `prometheus`): it scrapes a running
service and executor under a small load, evaluates paynode's alerting rules, and answers every
query of the Grafana dashboard with sensible values. Also: `promtool check rules` and
`promtool test rules` pass, every metric the dashboard and rules name exists on /metrics, and one
order's trace runs through the API, both nodes and all three topics as spans in the logs."""
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import PAYNODE, ROOT, Broker
from test_payment_service import Api, wait_for
from test_pipeline_e2e import TOKENS, create_orders, no_pending

DASHBOARDS = os.path.join(ROOT, "dashboards")
RULES = os.path.join(DASHBOARDS, "paynode-alerts.yml")
DASHBOARD = os.path.join(DASHBOARDS, "paynode-grafana.json")
ORDERS = 120


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dashboard_queries():
    with open(DASHBOARD) as handle:
        dashboard = json.load(handle)
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", [])]


def rule_expressions():
    with open(RULES) as handle:
        text = handle.read()
    return re.findall(r"expr: \|\n((?:          .*\n)+)", text)


def metric_names(expressions):
    return {name for expression in expressions for name in re.findall(r"\b(paynode_[a-z0-9_]+)", expression)}


class Prometheus:
    def __init__(self, work_dir, targets):
        self.port = free_port()
        self.work_dir = work_dir
        config = os.path.join(work_dir, "prometheus.yml")
        scrape_configs = "".join(
            f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n" for job, port in targets.items())
        with open(config, "w") as handle:
            handle.write(f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                         f"rule_files:\n  - {RULES}\nscrape_configs:\n{scrape_configs}")
        self.log = open(os.path.join(work_dir, "prometheus.log"), "w")
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={os.path.join(work_dir, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=self.log)
        wait_for(self.ready, 60, "prometheus to be ready")
        # Scraping starts after service discovery settles (about 5 s): wait for a first sample of
        # every target so rates cover the whole load.
        wait_for(lambda: self.scraped(len(targets)), 60, "every target to be scraped")

    def ready(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def scraped(self, count):
        targets = self.api("targets")["activeTargets"]
        return len(targets) == count and all(target["health"] == "up" for target in targets)

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expression):
        return self.api("query", query=expression)["result"]

    def value(self, expression):
        result = self.query(expression)
        return float(result[0]["value"][1]) if result else None

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def start_executor(data_dir, bootstrap, log_path):
    log = open(log_path, "a")
    process = subprocess.Popen([PAYNODE, "executor", "--data-dir", data_dir, "--bootstrap-servers", bootstrap,
                                "--http-listen", "127.0.0.1:0", "--trace-export", "log", "--log-format", "json"],
                               stdout=subprocess.PIPE, stderr=log, text=True)
    line = process.stdout.readline()
    match = re.search(r"paynode executor ready http=(\d+)", line)
    assert match, line
    return process, int(match.group(1))


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def json_lines(path):
    lines = []
    with open(path) as handle:
        for line in handle:
            if line.startswith("{"):
                lines.append(json.loads(line))
    return lines


def test_promtool_checks_and_unit_tests_the_alerting_rules():
    for command in (["promtool", "check", "rules", RULES],
                    ["promtool", "test", "rules", os.path.join(DASHBOARDS, "paynode-alerts.test.yml")]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=DASHBOARDS)
        assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_a_loaded_pipeline_and_the_dashboard_queries_answer(data_dir):
    service = Broker(data_dir + "/service", node="service",
                     extra_args=["--trace-export", "log", "--log-format", "json"]).start()
    executor, executor_port = start_executor(data_dir + "/executor", service.bootstrap, data_dir + "-executor.log")
    prometheus = Prometheus(os.path.dirname(data_dir), {"paynode-service": service.http_port,
                                                        "paynode-executor": executor_port})
    api = Api(service.http_port)
    try:
        # A load spread over a few scrapes, so rates see counters rise (a series first seen at its
        # final value has no rate).
        orders = {}
        for wave in range(4):
            orders.update(create_orders(api, ORDERS // 4, f"observability-{wave}"))
            time.sleep(1.5)
        # Two poison records for the DLQ, and an external group that reads part of payment-events.
        producer = Producer({"bootstrap.servers": service.bootstrap, "enable.idempotence": True})  # results come from idempotent producers, as the executor's
        for index in range(2):
            producer.produce("psp-result-updates", key=f"poison-{index}".encode(), value=b"\xff not protobuf", partition=0)
        producer.flush(10)
        wait_for(lambda: no_pending(api), 120, "every order to reach a terminal status")
        consumer = Consumer({"bootstrap.servers": service.bootstrap, "group.id": "compat-ledger", "enable.auto.commit": False})
        consumer.assign([TopicPartition("payment-events", 0, 0)])
        consumed = [m for m in consumer.consume(num_messages=5, timeout=10) if m.error() is None]
        assert consumed
        consumer.commit(message=consumed[-1], asynchronous=False)
        consumer.close()

        # Rates and gauges through Prometheus's HTTP API.
        wait_for(lambda: (prometheus.value('sum(rate(paynode_psp_results_total{outcome="applied"}[30s]))') or 0) > 0, 60,
                 "a rate of applied PSP results")
        wait_for(lambda: prometheus.value('sum(paynode_payment_orders{status="PENDING"})') == 0
                 and prometheus.value("sum(paynode_payment_orders)") == ORDERS, 60, "orders by status to add up")
        expected_final = {"SUCCESSFUL": 0, "FAILED": 0}
        for token in orders.values():
            expected_final[TOKENS[token][0]] += 1
        for status, count in expected_final.items():
            assert prometheus.value(f'sum(paynode_payment_orders{{status="{status}"}})') == count
        wait_for(lambda: prometheus.value('sum(paynode_consumergroup_lag{group="payment-service"})') == 0, 60,
                 "the payment-service group to have no lag")
        end = prometheus.value('sum(paynode_log_end_offset{job="paynode-service", topic="payment-events", partition="0"})')
        wait_for(lambda: prometheus.value('sum(paynode_consumergroup_lag{group="compat-ledger", topic="payment-events"})')
                 == end - (consumed[-1].offset() + 1), 30, "the external group's lag")
        assert end and end > consumed[-1].offset() + 1
        wait_for(lambda: prometheus.value(
            'sum(paynode_log_end_offset{topic="psp-result-updates.dlq"} - paynode_log_start_offset{topic="psp-result-updates.dlq"})')
            == 2, 30, "two dead letters")
        assert prometheus.value('sum(rate(paynode_http_requests_total{route="/v1/payment-orders", method="POST", status="201"}[30s]))') > 0
        assert prometheus.value('sum(increase(paynode_psp_calls_total{outcome="transient_error"}[5m]))') > 0  # tok_flaky
        p99 = prometheus.value('histogram_quantile(0.99, sum by (le) (rate(paynode_psp_result_to_commit_seconds_bucket[1m])))')
        assert p99 is not None and 0 < p99 < 10

        # Every dashboard query is valid PromQL and returns data for this load.
        for title, expression in dashboard_queries():
            concrete = (expression.replace("$__rate_interval", "30s").replace("$__range", "5m")
                        .replace('instance=~"$instance"', 'instance=~".*"'))
            assert prometheus.query(concrete), f"dashboard panel '{title}' returned nothing: {concrete}"

        # The rules evaluate cleanly; the DLQ alert is on its way, the no-progress one is not.
        wait_for(lambda: {rule["name"]: rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]}
                 ["PaynodeDeadLetters"]["state"] in ("pending", "firing"), 30, "the dead-letter alert to become pending")
        rules = {rule["name"]: rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]}
        assert len(rules) == len(rule_expressions()) and rules["PaynodeConsumerStalled"]["state"] == "inactive" and all(rule["health"] == "ok" for rule in rules.values()), rules
        assert rules["PaynodeConsumerNoProgress"]["state"] == "inactive"
        assert rules["PaynodePaymentConflicts"]["state"] == "inactive"

        # Every metric the dashboard and the rules name is on some node's /metrics.
        exposed = scrape(service.http_port) + scrape(executor_port)
        names = set(re.findall(r"^# TYPE (\w+) ", exposed, re.M))
        names |= {name + suffix for name in set(names) for suffix in ("_bucket", "_sum", "_count")}
        wanted = metric_names([expression for _, expression in dashboard_queries()] + rule_expressions())
        assert len(wanted) >= 20
        assert not wanted - names, f"named but not exposed: {sorted(wanted - names)}"
        # Both nodes allocate through jemalloc: its statistics count the heap (a node running on
        # another allocator would report nothing here, or next to nothing).
        for port in (service.http_port, executor_port):
            heap = {name: float(value) for name, value in
                    re.findall(r"^(paynode_heap_\w+_bytes) (\S+)$", scrape(port), re.M)}
            assert heap["paynode_heap_allocated_bytes"] > 2_000_000, heap
            assert heap["paynode_heap_resident_bytes"] >= heap["paynode_heap_allocated_bytes"], heap

        # One order's trace: API -> payment-orders -> executor -> psp-result-updates -> payment-events.
        order_id = next(order for order, token in orders.items() if token == "tok_visa")
        trace_id = api.call("GET", f"/v1/payment-orders/{order_id}")[2]["traceId"]
        spans = [line for line in json_lines(service.log_path) + json_lines(data_dir + "-executor.log")
                 if line.get("logger") == "paynode.trace" and line.get("trace_id") == trace_id]
        by_id = {span["span_id"]: span for span in spans}
        names_and_kinds = {(span["message"], span["span_kind"]) for span in spans}
        order_psp = "stripe" if any(line.get("paynode.psp") == "stripe" for line in spans) else "adyen"
        chain = [("/v1/payment-orders", "server"), ("send payment-orders", "producer"), ("process payment-orders", "consumer"),
                 ("send psp-result-updates", "producer"), ("process psp-result-updates", "consumer"),
                 ("send payment-events", "producer")]
        for expected in chain + [(f"charge {order_psp}", "client")]:
            assert expected in names_and_kinds, (expected, names_and_kinds)
        # Each hop is the child of the one before it, across both processes and three topics.
        parents = {}
        for span in spans:
            parent = by_id.get(span.get("parent_span_id"))
            parents[(span["message"], span["span_kind"])] = (parent["message"], parent["span_kind"]) if parent else None
        for child, parent in zip(chain[1:], chain):
            assert parents[child] == parent, (child, parents[child], parent)
        assert parents[(f"charge {order_psp}", "client")] == ("process payment-orders", "consumer")
        process = next(span for span in spans if span["message"] == "process psp-result-updates")
        assert process["messaging.system"] == "kafka" and process["messaging.consumer.group.name"] == "payment-service"
        assert process["paynode.outcome"] == "applied" and process["paynode.payment_order_id"] == order_id
        # Log lines about the event carry what operators search by, in both nodes.
        published = [line for line in json_lines(data_dir + "-executor.log")
                     if line.get("message") == "published PSP result" and line.get("paymentOrderId") == order_id]
        assert published and all(line["trace_id"] == trace_id and line["pspReference"] not in ("", "-")
                                 and line["topic"] == "psp-result-updates" and line["offset"].isdigit() for line in published), published
        results = [line for line in json_lines(service.log_path) if line.get("message") == "PSP result not applied"]
        assert results and all(line.get("trace_id") and "offset" in line for line in results)
    finally:
        prometheus.stop()
        executor.terminate()
        executor.wait(timeout=30)
        service.stop()
