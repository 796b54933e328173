# mtcr-rs build, test and install entry points. `make test` is what CI runs (.ci/run).
CARGO ?= cargo

.PHONY: all build deps lint test
all: build

deps:
	./scripts/install-deps.sh

build:
	$(CARGO) build --workspace --release

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: deps lint
	$(CARGO) build --workspace
	$(CARGO) test --workspace
