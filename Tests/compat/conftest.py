"""Shared fixtures: a real `paynode broker` process on free ports with a fresh data directory.

The broker binary comes from PAYNODE_BIN (default .build/debug/paynode): `make test` builds it
once and runs these tests against that build.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAYNODE = os.environ.get("PAYNODE_BIN", os.path.join(ROOT, ".build", "debug", "paynode"))
READY = re.compile(r"paynode (?:broker|service) ready http=(\d+) kafka=(\d+)")
# The service also names its ops listener (metrics and health without an API key), after kafka.
OPS = re.compile(r" ops=(\d+)")


class Broker:
    """A paynode broker child process that can be killed and restarted on the same ports."""

    def __init__(self, data_dir, kafka_port=0, http_port=0, extra_args=(), node="broker", auth=False):
        """A service starts with `--http-auth off` (tests not about authentication) unless
        `auth`; see `api_key` for a key of its data directory."""
        self.node = node
        self.auth = auth
        self.ops_port = None
        self.data_dir = data_dir
        self.kafka_port = kafka_port
        self.http_port = http_port
        self.extra_args = list(extra_args)
        if node == "service" and "--executor-principal" not in self.extra_args:
            # These clusters run without SASL, so the executor and the tests' checkers (which read
            # psp-result-updates) are all User:ANONYMOUS; test_acls.py covers the defaults (only
            # User:executor writes results and has them applied).
            self.extra_args += ["--executor-principal", "User:ANONYMOUS", "--super-users", "User:ANONYMOUS"]
        self.process = None
        self.log_path = os.path.join(data_dir + "-logs", f"{node}.log")
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.kafka_port}"

    def start(self, timeout=60):
        assert os.path.exists(PAYNODE), f"{PAYNODE} is not built: run `swift build` (make test does)"
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [PAYNODE, self.node, "--data-dir", self.data_dir,
             "--kafka-listen", f"127.0.0.1:{self.kafka_port}", "--http-listen", f"127.0.0.1:{self.http_port}",
             *self.service_args(), *self.extra_args],
            stdout=subprocess.PIPE, stderr=log, text=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"broker exited ({self.process.wait()}); log: {self.log_path}")
            match = READY.search(line)
            if match:
                self.http_port, self.kafka_port = int(match.group(1)), int(match.group(2))
                ops = OPS.search(line)
                self.ops_port = int(ops.group(1)) if ops else None
                return self
        raise RuntimeError("broker did not become ready")

    def service_args(self):
        if self.node != "service":
            return []
        args = [] if any(arg.startswith("--ops-listen") for arg in self.extra_args) else ["--ops-listen", "127.0.0.1:0"]
        if not self.auth and "--http-auth" not in self.extra_args:
            args += ["--http-auth", "off"]
        return args

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("broker did not stop within 30 s of SIGTERM")
        return self.process.returncode if self.process else None

    def log(self):
        with open(self.log_path) as handle:
            return handle.read()


@pytest.fixture
def data_dir():
    path = tempfile.mkdtemp(prefix="paynode-compat-")
    yield os.path.join(path, "data")
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def broker(data_dir):
    node = Broker(data_dir).start()
    yield node
    node.stop()


def paynode(*args, check=True):
    """Runs a paynode command line and returns its stdout."""
    result = subprocess.run([PAYNODE, *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"paynode {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result.stdout


def api_key(data_dir, *args):
    """Creates an API key in a service's data directory (running or not) and returns it;
    `args` are `paynode apikeys create` flags (default: an orders:write key of merchant m_1)."""
    return paynode("apikeys", "create", "--data-dir", data_dir, *(args or ("--merchant", "m_1"))).strip()
