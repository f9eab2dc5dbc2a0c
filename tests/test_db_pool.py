"""TODOS_DB_POOL_SIZE / TODOS_DB_POOL_TIMEOUT: Django's psycopg pool on PostgreSQL.

Settings are read once per process, so each case loads them in a fresh Python.
"""

import json
import subprocess

from tests import live

SHOW_POOL = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {}).get('pool')))"
)
POSTGRES = "postgres://postgres@127.0.0.1:5432/todos"


def load_settings(**env):
    """Run Django's set-up with ``env``; return the CompletedProcess."""
    return subprocess.run(
        [str(live.BIN / "python"), "-c", SHOW_POOL],
        cwd=live.ROOT,
        env=live.server_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_pool_settings_configure_psycopgs_pool():
    result = load_settings(
        database_url=POSTGRES, TODOS_DB_POOL_SIZE="7", TODOS_DB_POOL_TIMEOUT="2.5"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"min_size": 1, "max_size": 7, "timeout": 2.5}


def test_without_the_pool_settings_there_is_no_pool():
    result = load_settings(database_url=POSTGRES)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) is None


def test_a_bad_pool_size_is_refused_with_an_example():
    result = load_settings(database_url=POSTGRES, TODOS_DB_POOL_SIZE="lots")
    assert result.returncode != 0
    assert (
        "TODOS_DB_POOL_SIZE='lots': write a positive number, e.g. 10" in result.stderr
    )


def test_the_pool_is_refused_on_sqlite(tmp_path):
    result = load_settings(sqlite_path=tmp_path / "x.sqlite3", TODOS_DB_POOL_SIZE="4")
    assert result.returncode != 0
    assert "apply to PostgreSQL only" in result.stderr
