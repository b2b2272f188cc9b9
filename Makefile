# paynode: the two commands a new user needs are `make run` and `make test`.
SWIFT ?= swift
DATA_DIR ?= ./data

.PHONY: run test build loadtest deps test-deps clean

## run: install what is missing, build, and run the main job: the payment pipeline (service,
## executor, simulated PSPs) with a demo load of orders across every token, then a summary.
run: deps
	$(SWIFT) build --product paynode
	.build/debug/paynode dev --data-dir $(DATA_DIR)/dev --demo-orders 300

## test: install what the tests need, build once, run every test.
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	.build/debug/paynode-fuzz Tests/fuzz/corpus
	scripts/fuzz.sh 10
	PAYNODE_BIN=$(CURDIR)/.build/debug/paynode python3 -m pytest -q -p no:cacheprovider Tests/compat

## loadtest: release build, then 60 s of orders at 500/s with kills of both nodes and the fault
## proxy; prints throughput, latency and the checker's verdict (docs/loadtest.md).
loadtest: deps
	$(SWIFT) build -c release --product paynode
	$(SWIFT) build -c release --product loadtest
	.build/release/loadtest --rate 500 --duration 60 --kill service,executor --proxy-latency-ms 1 \
		--proxy-reset-interval 5-10 --proxy-blackhole-interval 8-12 --proxy-blackhole-ms 500

build: deps
	$(SWIFT) build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

clean:
	rm -rf .build $(DATA_DIR)
