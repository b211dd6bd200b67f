# Two commands do all the set-up on a machine with Python 3.11+ and make:
#   make run    install clippost alone into .venv and start it (web + worker, SQLite, Maildir)
#   make test   install clippost and its test tools into .venv (and Chromium and axe-core
#               for the browser test) and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
CLIPPOST_DATA_DIR ?= data
export CLIPPOST_DATA_DIR

.PHONY: run test lint bench bench-tools install browser axe clean

# What serving needs, and nothing else: `make run` installs only this.
$(BIN)/.installed-run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The test and lint tools on top (pytest, Playwright, ruff, mypy, the peer parsers).
$(BIN)/.installed: pyproject.toml $(BIN)/.installed-run
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# Links in emails must point where `make run` listens (PORT=9000 make run included);
# an explicit CLIPPOST_BASE_URL (a public https URL) wins.
run: export CLIPPOST_BASE_URL ?= http://$(HOST):$(PORT)
run: $(BIN)/.installed-run
	$(BIN)/clippost serve --host $(HOST) --port $(PORT)

# Debian's chromium for the end-to-end test (Playwright drives it; it never downloads one),
# and CJK fonts, without which the Japanese digest screenshots show empty boxes.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: the browser test will skip (CI fails)"; fi; }
	@fc-list :lang=ja 2>/dev/null | grep -q . || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; \
	  else echo "no CJK fonts: Japanese screenshots will show boxes"; fi; }

# axe-core (the accessibility rules the browser test runs on every page), from
# package-lock.json; the test injects node_modules/axe-core/axe.min.js into each page.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; \
	  fi; }
	@if command -v npm >/dev/null 2>&1; then npm ci --silent --no-audit --no-fund && touch $@; \
	else echo "npm is missing: the accessibility checks will skip (CI fails)"; fi

axe: node_modules/.installed

test: install browser axe
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# Postfix's smtp-sink and smtp-source, the C reference bench/send.py measures against.
# Installing postfix starts no mail server here: DEBIAN_FRONTEND=noninteractive with the
# "No configuration" answer leaves it unconfigured, and the bench runs smtp-sink itself.
bench-tools:
	@command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null; \
	  else echo "smtp-sink is missing: install Debian's postfix package for bench/send.py"; fi; }

bench: install bench-tools
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/send.py
	$(BIN)/python bench/web.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
