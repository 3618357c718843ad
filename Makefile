# The two commands: `make run` and `make test`. Both set everything up first
# (idempotent: scripts/setup.sh), so they work on a fresh clone.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)
# torch-sys builds against the torch in .venv (PyTorch 2.11.0, as tch 0.24.0 expects).
export LIBTORCH_USE_PYTORCH := 1

.PHONY: run stylize test setup build lint bench bench-fast bench-store golden dataset gpu-check gpu-rehearse

# Opens the TUI on the bundled library (`atelier` with no subcommand).
run: build
	target/release/atelier

# The one-shot command-line run (what `make run` did before the TUI).
stylize: build
	target/release/atelier stylize

# The store tests run against SQLite and a throwaway PostgreSQL server, started here
# and stopped on exit even when tests fail (ATELIER_TEST_PG set: that server instead).
test: setup lint
	@scripts/ensure_tmux.sh
	scripts/pg_test_server.sh run cargo test --release

setup:
	@scripts/setup.sh

build: setup
	cargo build --release

lint: setup
	cargo fmt --all -- --check
	cargo clippy --release --all-targets -- -D warnings

# Seconds per evaluation, ours against plain PyTorch, same weights, sizes, threads.
bench: build
	.venv/bin/python bench/run.py $(BENCH_ARGS)

# Fast style: apply s/image and training images/s, ours against the same network in
# PyTorch, and against a Gatys run of the same size (docs/benchmarks.md).
bench-fast: build
	cargo build --release --example fast_time
	.venv/bin/python bench/fast.py $(BENCH_ARGS)

# The run store: claims/s and queue-to-claim latency, SQLite against a throwaway
# PostgreSQL server, 1/4/16 workers (docs/studio.md).
bench-store: setup
	cargo build --release --example store_bench
	scripts/pg_test_server.sh run target/release/examples/store_bench

# Regenerate every golden file the tests compare against (tests/golden/, from the
# venv's torch): each scripts/golden_*.py writes its own.
golden: setup
	.venv/bin/python scripts/golden_lbfgs.py tests/golden/lbfgs.json
	.venv/bin/python scripts/golden_vgg.py weights/vgg19.safetensors tests/golden/vgg19.json
	.venv/bin/python scripts/golden_transformer.py
	.venv/bin/python scripts/golden_cin.py
	.venv/bin/python scripts/golden_msg.py
	.venv/bin/python scripts/golden_adain.py
	.venv/bin/python scripts/golden_masks.py

# The default training set (~100 photos, datasets/README.md): apt-get downloads, so root
# on Debian 12. Not part of setup or test: it fetches ~400 MB and CI does not need it.
dataset:
	scripts/fetch_dataset.sh

# atelier on a GPU (docs/gpu.md): the smoke checks, every bundled network retrained at
# full width and scored against the bundled one, benchmarks; results in gpu-check-out/.
gpu-check: build
	scripts/gpu_check.sh gpu-check-out

# The same script on the CPU at toy sizes, in a few minutes: results in gpu-rehearsal-out/.
gpu-rehearse: build
	scripts/gpu_check.sh --rehearse gpu-rehearsal-out
