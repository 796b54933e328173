# mtcr-rs build, test and install entry points. `make test` is what CI runs (.ci/run).
CARGO ?= cargo
PREFIX ?= /usr/local
PROFILE ?= release
CC ?= gcc
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

# Cargo's target directory (honours CARGO_TARGET_DIR).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
LIBDIR_OUT := $(TARGET_DIR)/$(PROFILE)
PROFILE_FLAG := $(if $(filter release,$(PROFILE)),--release,)

STAGE := $(CURDIR)/build/stage
CTEST_BIN := $(CURDIR)/build/ctest
# The simulator used by ctest / demo (debug build of the workspace).
SIM := $(TARGET_DIR)/debug/mtcr-sim
CFLAGS_C := -Wall -Wextra -Werror -O1 -g

.PHONY: all build deps lint test headers check-headers install check-symbols ctest ctest-build \
        demo sim valgrind-ctest clean-stage python-tools bench fuzz test-upstream

all: build

deps:
	./scripts/install-deps.sh

build:
	$(CARGO) build $(PROFILE_FLAG) -p mtcr

sim:
	$(CARGO) build -p mtcr-sim

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Regenerate include/ from the Rust sources (cbindgen, tools/genheaders).
headers:
	$(CARGO) run -q -p mtcr-genheaders -- $(CURDIR)/include

# Fail if include/ is not byte-identical to what the sources generate.
check-headers:
	@tmp=$$(mktemp -d) && \
	$(CARGO) run -q -p mtcr-genheaders -- $$tmp && \
	for h in mtcr.h mtcr_com_defs.h; do \
	  cmp $$tmp/$$h include/$$h || { echo "include/$$h is stale: run 'make headers'"; rm -rf $$tmp; exit 1; }; \
	done; rm -rf $$tmp; echo "check-headers: include/ up to date"

# make install PREFIX=DIR: DIR/lib/libmtcr_ul.so.1 (+ .so link, .a), DIR/include/mtcr_ul/*.h,
# DIR/lib/pkgconfig/mtcr_ul.pc, DIR/lib/mtcr_ul/cmtcr.so (-> the library, for mstflint's Python
# tools: LD_LIBRARY_PATH=DIR/lib/mtcr_ul makes mtcr.py load it).
install: build
	install -d $(PREFIX)/lib/pkgconfig $(PREFIX)/include/mtcr_ul
	install -m 0755 $(LIBDIR_OUT)/libmtcr_ul.so $(PREFIX)/lib/libmtcr_ul.so.1
	ln -sf libmtcr_ul.so.1 $(PREFIX)/lib/libmtcr_ul.so
	install -m 0644 $(LIBDIR_OUT)/libmtcr_ul.a $(PREFIX)/lib/libmtcr_ul.a
	install -m 0644 include/mtcr.h include/mtcr_com_defs.h $(PREFIX)/include/mtcr_ul/
	install -d $(PREFIX)/lib/mtcr_ul
	ln -sf ../libmtcr_ul.so.1 $(PREFIX)/lib/mtcr_ul/cmtcr.so
	sed -e 's|@PREFIX@|$(abspath $(PREFIX))|g' -e 's|@VERSION@|$(VERSION)|g' \
	  pkgconfig/mtcr_ul.pc.in > $(PREFIX)/lib/pkgconfig/mtcr_ul.pc

# The exported dynamic symbols must be exactly compat/symbols.txt, with no Rust-mangled ones.
check-symbols: build
	@objdump -p $(LIBDIR_OUT)/libmtcr_ul.so | grep -q 'SONAME *libmtcr_ul.so.1' || \
	  { echo "check-symbols: SONAME is not libmtcr_ul.so.1"; exit 1; }
	@mkdir -p build && nm -D --defined-only $(LIBDIR_OUT)/libmtcr_ul.so | awk '{print $$3}' | LC_ALL=C sort > build/.symbols.txt.tmp
	@if grep -E '^(_ZN|_R)' build/.symbols.txt.tmp; then echo "check-symbols: Rust-mangled exports"; exit 1; fi
	@diff -u compat/symbols.txt build/.symbols.txt.tmp || \
	  { echo "check-symbols: exports differ from compat/symbols.txt"; exit 1; }
	@echo "check-symbols: $$(wc -l < compat/symbols.txt) symbols, SONAME libmtcr_ul.so.1"

clean-stage:
	rm -rf $(STAGE) $(CTEST_BIN) $(CURDIR)/build/tools

# C programs of ctest/, built through pkg-config against a staged install.
ctest-build: clean-stage
	$(MAKE) install PREFIX=$(STAGE)
	mkdir -p $(CTEST_BIN)
	for std in "-std=c99" "-std=c11"; do \
	  $(CC) $$std -pedantic-errors -Wall -Wextra -Werror -fsyntax-only ctest/common/header_check.c \
	    $$(PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --cflags mtcr_ul) || exit 1; \
	done
	if command -v g++ >/dev/null; then \
	  g++ -x c++ -pedantic-errors -Wall -Wextra -Werror -fsyntax-only ctest/common/header_check.c \
	    $$(PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --cflags mtcr_ul) || exit 1; \
	else echo "ctest: g++ not installed, C++ header check skipped"; fi
	for f in ctest/*.c; do \
	  b=$$(basename $$f .c); [ $$b = demo ] && continue; \
	  PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig $(CC) $(CFLAGS_C) $$f ctest/common/tap.c -Ictest/common \
	    $$(PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --cflags --libs mtcr_ul) \
	    -Wl,-rpath,$(STAGE)/lib -o $(CTEST_BIN)/$$b || exit 1; \
	done
	# A small mstmcra work-alike for the differential check against the stock tool.
	mkdir -p $(CURDIR)/build/tools
	$(CC) $(CFLAGS_C) ctest/tools/mcra.c $$(PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --cflags --libs mtcr_ul) \
	  -Wl,-rpath,$(STAGE)/lib -o $(CURDIR)/build/tools/mcra
	# The same sources, linked statically against libmtcr_ul.a (one program is enough).
	PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig $(CC) $(CFLAGS_C) ctest/access.c ctest/common/tap.c -Ictest/common \
	  $$(PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --cflags mtcr_ul) $(STAGE)/lib/libmtcr_ul.a \
	  -lgcc_s -lutil -lrt -lpthread -lm -ldl \
	  -o $(CTEST_BIN)/access_static

# Run every ctest program inside the simulator (configs in ctest/configs/).
ctest: ctest-build sim
	SIM=$(SIM) BIN=$(CTEST_BIN) ./ctest/run.sh
	SIM=$(SIM) MCRA=$(CURDIR)/build/tools/mcra ./ctest/diff_stock.sh

valgrind-ctest: ctest-build sim
	SIM=$(SIM) BIN=$(CTEST_BIN) VALGRIND=1 ./ctest/run.sh

# Debian's mtcr.py on the stock cmtcr.so and on ours, same simulated device, same answers.
python-tools: sim
	$(MAKE) install PREFIX=$(STAGE)
	SIM=$(SIM) STAGE=$(STAGE) ./ctest/python_tools.sh

demo: sim
	$(MAKE) install PREFIX=$(STAGE)
	mkdir -p $(CTEST_BIN)
	$(CC) $(CFLAGS_C) ctest/demo.c \
	  $$(PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --cflags --libs mtcr_ul) \
	  -Wl,-rpath,$(STAGE)/lib -o $(CTEST_BIN)/demo
	$(SIM) run -- $(CTEST_BIN)/demo

test: deps lint check-headers
	$(CARGO) build --workspace
	$(CARGO) test --workspace
	$(MAKE) check-symbols
	$(MAKE) ctest
	$(MAKE) valgrind-ctest
	$(MAKE) python-tools

# Upstream mstflint v4.36's own tools (a fixture: built from upstream's sources, linked against
# libmtcr_ul.so.1, with upstream's library as the reference) on upstream's library and on ours,
# inside the simulator, over every access path and name form; outputs compared, differences
# either documented in compat/upstream-diffs.txt or failing (scripts/test-upstream.py).
# Without the fixture: a message, and failure only under CI=true. Not part of `make test`.
UPSTREAM_FIXTURE ?= $(CURDIR)/../shared/upstream-4.36
test-upstream:
	@if [ ! -x "$(UPSTREAM_FIXTURE)/run" ]; then \
	  echo "test-upstream: no fixture at $(UPSTREAM_FIXTURE) (upstream mstflint 4.36 tools on libmtcr_ul.so.1; set UPSTREAM_FIXTURE=DIR)"; \
	  if [ "$${CI:-}" = true ]; then exit 1; fi; exit 0; \
	fi; \
	./scripts/install-deps.sh && \
	$(CARGO) build -p mtcr-sim -p mtcr-sim-preload && \
	$(MAKE) install PREFIX=$(STAGE) && \
	python3 scripts/test-upstream.py --fixture $(UPSTREAM_FIXTURE) --lib $(STAGE)/lib --sim $(SIM) \
	  --out $(CURDIR)/build/upstream $(UPSTREAM_ARGS)

# Performance benchmark (bench/, docs/PERFORMANCE.md): ours vs Debian's stock cmtcr.so in the
# simulator, side by side in one process (A B, B A, ...). UPDATE_DOC=1 writes the table into docs/PERFORMANCE.md; BENCH_ARGS passes
# options to bench/run.py (e.g. BENCH_ARGS="--rounds 3 --paths config").
STOCK_CMTCR ?= /usr/lib/x86_64-linux-gnu/mstflint/python_tools/cmtcr.so
BENCH_BIN := $(CURDIR)/build/bench/mtcr_bench
bench:
	$(CARGO) build --release -p mtcr
	$(CARGO) build -p mtcr-sim -p mtcr-sim-preload
	mkdir -p $(CURDIR)/build/bench
	$(CC) -std=c99 -O2 -Wall -Wextra -Werror bench/mtcr_bench.c -ldl -o $(BENCH_BIN)
	python3 bench/run.py --sim $(SIM) --bench $(BENCH_BIN) --ours $(TARGET_DIR)/release/libmtcr_ul.so \
	  --stock $(STOCK_CMTCR) --out $(CURDIR)/build/bench $(if $(UPDATE_DOC),--doc docs/PERFORMANCE.md) $(BENCH_ARGS)

# Fuzz every target of fuzz/ for FUZZ_SECS seconds each: with cargo-fuzz (+nightly toolchain)
# when installed (new inputs go to a temporary directory; the committed corpus is only read),
# else the bounded random-input driver of tests/fuzz_corpus.rs (same target bodies).
FUZZ_SECS ?= 30
FUZZ_TARGETS := name sysfs_attr vpd api_seq
fuzz:
	@if command -v cargo-fuzz >/dev/null 2>&1 && $(CARGO) +nightly --version >/dev/null 2>&1; then \
	  for t in $(FUZZ_TARGETS); do \
	    tmp=$$(mktemp -d) && echo "fuzz: $$t for $(FUZZ_SECS) s (cargo-fuzz)" && \
	    (cd fuzz && env -u CARGO_TARGET_DIR $(CARGO) +nightly fuzz run -O $$t $$tmp corpus/$$t -- \
	       -max_total_time=$(FUZZ_SECS) -print_final_stats=1) || { rm -rf $$tmp; exit 1; }; \
	    rm -rf $$tmp; \
	  done; \
	else \
	  echo "fuzz: cargo-fuzz or a nightly toolchain missing: bounded random-input driver"; \
	  FUZZ_SECS=$(FUZZ_SECS) $(CARGO) test --test fuzz_corpus random_inputs -- --ignored --nocapture; \
	fi
