# Two commands do everything: `make demo` and `make test`. Both install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SAM := .tools/sam/bin/sam
SAM_VERSION := 1.170.0
CHECKOV := .tools/checkov/bin/checkov
CHECKOV_VERSION := 3.3.30
export SAM_CLI_TELEMETRY := 0

.PHONY: install test quick test-busy lint typecheck checkov unit sam demo bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

$(SAM):
	$(PYTHON) -m venv .tools/sam
	.tools/sam/bin/pip install -q --upgrade pip
	.tools/sam/bin/pip install -q aws-sam-cli==$(SAM_VERSION)

# checkov pins many dependencies of its own, so it too lives in a venv apart (the stamp names its version)
.tools/checkov/.installed-$(CHECKOV_VERSION):
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/pip install -q --upgrade pip
	.tools/checkov/bin/pip install -q checkov==$(CHECKOV_VERSION)
	touch $@

install: $(BIN)/.installed $(SAM) .tools/checkov/.installed-$(CHECKOV_VERSION)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy layers/roster/roster dev/roster_dev functions tests

# template.yaml's security defaults: any failed check fails the build; each skip carries its reason inline.
checkov: .tools/checkov/.installed-$(CHECKOV_VERSION)
	$(CHECKOV) --file template.yaml --framework cloudformation --quiet --compact --skip-download

# One worker per core, each with its own local stack; a file's tests stay together on one worker.
unit: install
	$(BIN)/pytest -n auto --dist loadfile

test: lint typecheck checkov unit

# The inner loop: everything but the demo end to end.
quick: lint typecheck checkov
	$(BIN)/pytest -n auto --dist loadfile tests/unit tests/integration

# `make test` with both cores hogged by busy loops: no test may depend on the machine's speed.
test-busy: install
	@( while :; do :; done ) & one=$$!; ( while :; do :; done ) & two=$$!; \
	$(MAKE) test; status=$$?; kill $$one $$two; exit $$status

demo: install
	$(BIN)/roster demo

bench: install
	$(BIN)/python tests/bench/bench_core.py
	$(BIN)/python tests/bench/bench_segments.py
	$(BIN)/python tests/bench/bench_export.py
	$(BIN)/python tests/bench/bench_signals.py
	$(BIN)/python tests/bench/bench_audiences.py
	$(BIN)/python tests/bench/bench_sequencers.py

clean:
	rm -rf .aws-sam .mypy_cache .ruff_cache .hypothesis
