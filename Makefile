# paynode: the two commands a new user needs are `make run` and `make test`.
SWIFT ?= swift
DATA_DIR ?= ./data

.PHONY: run test build deps test-deps clean

## run: install what is missing, build, and run the main job: the payment pipeline (service,
## executor, simulated PSPs) with a demo load of orders across every token, then a summary.
run: deps
	$(SWIFT) build --product paynode
	.build/debug/paynode dev --data-dir $(DATA_DIR)/dev --demo-orders 300

## test: install what the tests need, build once, run every test.
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	PAYNODE_BIN=$(CURDIR)/.build/debug/paynode python3 -m pytest -q -p no:cacheprovider Tests/compat

build: deps
	$(SWIFT) build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

clean:
	rm -rf .build $(DATA_DIR)
