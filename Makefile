# The single way in: `make run` and `make test` work on a fresh Debian machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: assistant-deps dist run test lint i18n docs bench bench-restart bench-bot venv system-deps widget clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the test suite drives for real: PostgreSQL and Redis for the multi-node tests,
# Chromium for the browser tests, nginx and systemd-analyze for deploy/nginx.conf and the unit,
# podman (with runc and debootstrap) for the image (tests/test_containers.py).
# Skipped (tests then say why) where apt-get is not available.
system-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  missing=""; \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	  command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	  command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	  command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	  command -v podman >/dev/null 2>&1 || missing="$$missing podman runc debootstrap podman-compose"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	else echo "system-deps: not root or no apt-get; PostgreSQL/Redis/browser tests may be skipped"; fi

widget: $(STAMP)
	@if [ -f widget/package.json ]; then $(MAKE) -C widget build; fi

# Voikko, the Finnish morphology the assistant reads base forms and compounds with (docs/bot.md);
# without it the assistant still runs, with plain stems and a warning.
assistant-deps:
	@if ls /usr/lib/*/libvoikko.so.1 >/dev/null 2>&1 && [ -d /usr/lib/voikko ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing: libvoikko1 voikko-fi"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvoikko1 voikko-fi >/dev/null; \
	else echo "assistant-deps: install libvoikko1 and voikko-fi (Debian) for Finnish base forms"; fi

run: $(STAMP) assistant-deps widget
	$(BIN)/chatserver serve --migrate --demo

test: $(STAMP) system-deps assistant-deps widget
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check chatserver tests
	$(BIN)/mypy

# Extract marked strings into the template, merge it into the fi/sv/en catalogs (the .po files
# are where translations live: edit them, and this keeps them), and list what is untranslated.
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -o chatserver/locales/messages.pot --no-location --omit-header chatserver
	$(BIN)/pybabel update -i chatserver/locales/messages.pot -d chatserver/locales -D messages --no-fuzzy-matching --ignore-obsolete -w 100
	$(BIN)/python tools/untranslated.py

# The sdist and the wheel in dist/, with the catalogs and the built widget and console inside
# (an operator installs the wheel with pip and gets the same product; docs/deployment.md).
dist: $(STAMP) widget
	rm -rf dist build
	$(BIN)/python -m build --no-isolation --sdist --wheel --outdir dist . >/dev/null
	@ls -l dist

# Regenerate the configuration reference in the README from the settings models.
docs: $(STAMP)
	$(BIN)/chatserver config-reference --update README.md

# Benchmark (docs/performance.md): chatserver and the bare relay under load; `make bench
# BENCH_ARGS=--quick` for a short smoke run, `BENCH_ARGS=--postgres` for PostgreSQL.
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The steady load while the server process is restarted (SIGTERM, then SIGKILL): no acknowledged
# message lost or stored twice (docs/performance.md, "Load with a restart").
bench-restart: $(STAMP)
	$(BIN)/python bench/run.py --scenarios steady-restart $(BENCH_ARGS)

# The FAQ assistant's matching cost for 200 entries (docs/bot.md).
bench-bot: $(STAMP)
	$(BIN)/python bench/bot_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build
