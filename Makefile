# One command to run the app, one to run every test; each does its own set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Daphne's WebSocket limits (1 MiB by default): a browser sends each upload as one
# frame, and the message limit applies to what the server sends too, whose first
# frame is the whole stored document: allow TODOS_MAX_DOCUMENT_BYTES and more, so
# that a larger upload gets the app's 413 frame instead of a closed socket.
WS_MAX_BYTES ?= 33554432
# Services for the PostgreSQL/Redis tests; the tests skip (saying how to enable
# them) when these are unreachable, unless TODOS_REQUIRE_SERVICES=1 (as in CI).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
export TEST_DATABASE_URL TEST_REDIS_URL

.PHONY: setup run test test-python test-postgres test-js lint bench clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# `npm install` honours the pinned package-lock.json. (`npm ci` refuses this lock file:
# npm 11 leaves cbor-extract's optional per-platform packages out of it, then reports
# the lock as out of sync.)
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund
	touch $@

# Serves collectstatic's hashed, compressed files, as production does
# (TODOS_COLLECTED_STATIC=0 serves the source files instead, for editing them).
run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	TODOS_COLLECTED_STATIC=1 $(BIN)/daphne -b $(HOST) -p $(PORT) --websocket-max-message-size $(WS_MAX_BYTES) \
	  --websocket-max-frame-size $(WS_MAX_BYTES) \
	  todo_site.asgi:application

test: setup test-js test-python test-postgres

test-js: setup
	node --test tests/js/

test-python: setup
	$(BIN)/pytest

# The storage and API tests once more with PostgreSQL as Django's database
# (row locks with select_for_update instead of SQLite's BEGIN IMMEDIATE).
test-postgres: setup
	@$(BIN)/python tests/services.py postgres; status=$$?; \
	if [ $$status -eq 0 ]; then \
	  DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -m "not browser and not live" \
	    tests/storage/test_service.py tests/storage/test_compaction.py tests/test_views.py tests/test_consumers.py; \
	elif [ $$status -eq 2 ]; then exit 1; fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python benchmarks/write_latency.py

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache
