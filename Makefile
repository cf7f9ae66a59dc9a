# Two commands on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
TONLE := $(VENV)/bin/tonle
PYTHON ?= python3

export TONLE_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test lint install clean bench

# The first run installs for about a minute: say so, and what it is doing, instead of sitting silent.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || { echo "==> creating the virtualenv in $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> installing Tonle and its dependencies into $(VENV) (about a minute, only when pyproject.toml changes)"
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet --progress-bar off -e '.[dev]'
	@touch $@
	@echo "==> installed"

install: $(VENV)/.installed

# Migrates an embedded SQLite database under ./data, seeds the demo sandbox (printing its credentials) and serves
# the API and pages on 127.0.0.1:8024.
run: $(VENV)/.installed
	@# The sandbox delivers webhooks to loopback receivers (`tonle webhooks listen`); production refuses them.
	@echo "==> migrating the database in $(TONLE_DATA_DIR)"
	@$(TONLE) migrate
	@echo "==> seeding the demo sandbox (fixtures/demo.json); its credentials:"
	@$(TONLE) seed fixtures/demo.json
	@echo "==> serving on http://$${TONLE_HOST:-127.0.0.1}:$${TONLE_PORT:-8024}  (start page: /, API docs: /docs; Ctrl-C stops)"
	TONLE_WEBHOOK_ALLOW_PRIVATE_TARGETS=$${TONLE_WEBHOOK_ALLOW_PRIVATE_TARGETS:-true} $(TONLE) serve

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests bench

# Runs the whole suite on SQLite, and on PostgreSQL too when it is reachable (TONLE_TEST_POSTGRES_URL, else
# 127.0.0.1:5432/test), plus ruff.
test: lint
	$(PY) -m pytest

# Benchmarks (bench/README.md): every scenario on SQLite and PostgreSQL with real server processes and wrk;
# appends a table to bench/RESULTS.md. Installs wrk from Debian when it is missing. Takes about 25 minutes.
bench: $(VENV)/.installed
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
