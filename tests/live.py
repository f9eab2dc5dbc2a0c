"""Live servers for tests: real Daphne processes on free local ports.

``LiveServer`` runs ``daphne todo_site.asgi:application`` as a subprocess with its
own database (a SQLite file, or a PostgreSQL database shared by several servers)
and optional Redis channel layer, exactly as an operator would run it.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WS_MAX_BYTES = 32 * 1024 * 1024


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout=30.0, process=None):
    """Block until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on port {port} within {timeout} s")


def deployed_settings():
    """Settings as deployed (DEBUG off), on plain HTTP: for benchmarks, which
    should measure the server as operators run it (DEBUG records every query)."""
    return {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SECURE_SSL_REDIRECT": "0",
    }


def server_env(database_url=None, sqlite_path=None, redis_url=None, **extra):
    """Environment for a server process: settings come from variables only."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["DJANGO_SETTINGS_MODULE"] = "todo_site.settings"
    env["PYTHONUNBUFFERED"] = "1"
    if database_url:
        env["DATABASE_URL"] = database_url
    if sqlite_path:
        env["TODOS_SQLITE_PATH"] = str(sqlite_path)
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update({k: str(v) for k, v in extra.items()})
    return env


def collect_static(static_root):
    """Run ``manage.py collectstatic`` into ``static_root``; return server_env kwargs.

    Servers started with those kwargs serve the collected files as ``make run``
    and production do: hashed names, brotli/gzip, long-cached.
    """
    env = server_env(DJANGO_STATIC_ROOT=static_root)
    subprocess.run(
        [str(BIN / "python"), "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return {"DJANGO_STATIC_ROOT": static_root, "TODOS_COLLECTED_STATIC": 1}


def migrate(env):
    """Run ``manage.py migrate`` with ``env``."""
    subprocess.run(
        [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def create_superuser(env, username, password):
    """Create a Django superuser in the database ``env`` points at."""
    subprocess.run(
        [
            str(BIN / "python"),
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            username,
            "--email",
            f"{username}@example.org",
        ],
        cwd=ROOT,
        env=dict(env, DJANGO_SUPERUSER_PASSWORD=password),
        check=True,
        capture_output=True,
    )


class LiveServer:
    """One Daphne process; ``url`` is its http:// base, ``ws_url`` its ws:// base."""

    def __init__(self, env, port=None, log_path=None):
        self.env = env
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process = None

    def command(self):
        """The server's command line."""
        return [
            str(BIN / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            # As `make run`: the first frame (the stored document) may pass
            # Daphne's 1 MiB default.
            "--websocket-max-message-size",
            str(WS_MAX_BYTES),
            "--websocket-max-frame-size",
            str(WS_MAX_BYTES),
            "todo_site.asgi:application",
        ]

    def start(self):
        """Start the server and wait until it accepts connections."""
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self):
        """Stop the server gracefully (SIGTERM), then wait for it."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self):
        """Kill the server at once (SIGKILL), as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


class PostgresDatabase:
    """A throwaway PostgreSQL database, created and migrated, dropped on close."""

    def __init__(self, server_url):
        import psycopg

        self.psycopg = psycopg
        self.name = f"todos_live_{secrets.token_hex(6)}"
        parts = urlsplit(server_url)
        self.admin_url = server_url
        self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self):
        """Drop the database, disconnecting anyone still using it."""
        with self.psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
