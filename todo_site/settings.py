"""Settings for the todo site, configured by environment variables.

With nothing set: a SQLite file, Channels' in-memory layer, DEBUG on. See the README's
"Configuration" section for every variable.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default):
    """Read a yes/no environment variable ("1", "true", "yes", "on" mean yes)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off; generate one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get(
        "DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver"
    ).split(",")
    if host.strip()
]

# Pages that may open WebSockets: origins ("scheme://host[:port]", comma-separated),
# besides the socket's own address (todo_site/origins.py). By default: Daphne's
# address under `make run` with DEBUG on; with DEBUG off, each allowed host over
# HTTPS, as the production recipe serves it.
TODOS_ALLOWED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get(
        "TODOS_ALLOWED_ORIGINS",
        "http://localhost:8000,http://127.0.0.1:8000"
        if DEBUG
        else ",".join(
            f"https://{host}"
            for host in ALLOWED_HOSTS
            if not host.startswith(".") and "*" not in host
        ),
    ).split(",")
    if origin.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "todos",
]

MIDDLEWARE = [
    "todo_site.middleware.ContentSecurityPolicy",
    "todo_site.health.HealthChecks",  # /healthz, /readyz: before host checks
    "todo_site.metrics.Metrics",  # counts responses; /metrics: before host checks
    "todo_site.middleware.RefuseDisallowedHosts",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "todo_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "todo_site.asgi.application"

# Database: DATABASE_URL (PostgreSQL) or a SQLite file. On SQLite, select_for_update()
# is a no-op, so writers take the database lock up front (BEGIN IMMEDIATE) and wait
# for each other instead of racing; see DESIGN.md, "Concurrency".
SQLITE_PATH = Path(os.environ.get("TODOS_SQLITE_PATH", BASE_DIR / "db.sqlite3"))
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{SQLITE_PATH}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A server that accepts connections but never answers fails requests (503)
    # instead of hanging them.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Keep a thread's connection open between its calls instead of opening the
    # file and setting it up each time (a sixth of a small write's time): the
    # WebSocket consumer's database calls share one thread, and HTTP requests
    # run in kept threads (todo_site/asgi_handler.py). A broken connection is
    # replaced.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TODOS_TEST_SQLITE_PATH")}


def env_number(name, kind, example):
    """Read a positive number from the environment; None when unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ImproperlyConfigured(
            f"{name}={raw!r}: write a positive number, e.g. {example}."
        )
    return value


# PostgreSQL only: each server process keeps a pool of up to TODOS_DB_POOL_SIZE
# connections (Django's psycopg pool) instead of opening one per request; a request
# waits up to TODOS_DB_POOL_TIMEOUT seconds for a free one (then fails with 503).
TODOS_DB_POOL_SIZE = env_number("TODOS_DB_POOL_SIZE", int, "10")
TODOS_DB_POOL_TIMEOUT = env_number("TODOS_DB_POOL_TIMEOUT", float, "10")
if TODOS_DB_POOL_SIZE or TODOS_DB_POOL_TIMEOUT:
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "TODOS_DB_POOL_SIZE and TODOS_DB_POOL_TIMEOUT apply to PostgreSQL only: "
            "set DATABASE_URL=postgres://... or unset them."
        )
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": TODOS_DB_POOL_SIZE or 4,
        "timeout": TODOS_DB_POOL_TIMEOUT or 10.0,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channels: Redis carries pushes between processes when REDIS_URL is set.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # channels_redis, with timeouts that fit its blocking receive and receivers
    # that outlive a Redis restart (todo_site/channel_layer.py).
    from todo_site.channel_layer import redis_hosts

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "todo_site.channel_layer.RedisChannelLayer",
            "CONFIG": {
                "hosts": redis_hosts(REDIS_URL),
                "capacity": 1000,
                "expiry": 10,
            },
        }
    }
else:
    # Channels' own, with its expiry sweep at most once a second
    # (todo_site/memory_layer.py). Each channel holds up to 1,000 messages, as
    # with Redis (where that bounds the whole process): the push hub's one
    # channel carries every document's pushes (todos/push_hub.py).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "todo_site.memory_layer.InMemoryChannelLayer",
            "CONFIG": {"capacity": 1000},
        }
    }

_VALIDATORS = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATORS}.UserAttributeSimilarityValidator"},
    {"NAME": f"{_VALIDATORS}.MinimumLengthValidator"},
    {"NAME": f"{_VALIDATORS}.CommonPasswordValidator"},
    {"NAME": f"{_VALIDATORS}.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files: our ES modules and CSS, plus the files of Automerge's npm package
# that the browser loads (its slim ES module entry and automerge.wasm; see
# todo_site/staticfiles.py), served by WhiteNoise from Daphne itself.
# TODOS_COLLECTED_STATIC on: collectstatic's copies in STATIC_ROOT, under
# content-hashed names (cached for good by browsers) and compressed with brotli
# and gzip; run collectstatic first (`make run` does). Off: the source files,
# unhashed and uncached, so an edit shows on the next reload.
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
AUTOMERGE_DIST = BASE_DIR / "node_modules" / "@automerge" / "automerge" / "dist"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",  # the admin's
    "todo_site.staticfiles.AutomergeFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "todo_site.staticfiles.CompressedManifestStorage"},
}
TODOS_COLLECTED_STATIC = env_bool("TODOS_COLLECTED_STATIC", not DEBUG)
WHITENOISE_USE_FINDERS = not TODOS_COLLECTED_STATIC
WHITENOISE_AUTOREFRESH = not TODOS_COLLECTED_STATIC
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
# Files under plain names (only Automerge's modules, see staticfiles.py, unless
# TODOS_COLLECTED_STATIC is off) are revalidated on each use; hashed names are
# cached for good.
WHITENOISE_MAX_AGE = 0

# The largest document we store, and the largest upload we read (413 beyond it).
TODOS_MAX_DOCUMENT_BYTES = int(
    os.environ.get("TODOS_MAX_DOCUMENT_BYTES", str(16 * 1024 * 1024))
)
DATA_UPLOAD_MAX_MEMORY_SIZE = TODOS_MAX_DOCUMENT_BYTES
# HTTP requests are served in a pool of this many kept threads per process
# (todo_site/asgi_handler.py); more concurrent requests wait for a free one.
TODOS_REQUEST_THREADS = env_number("TODOS_REQUEST_THREADS", int, "64") or 64

# The engine (real Automerge, todos/engine/): processes that check, apply, compact
# and decode documents, each with a warm copy of up to ENGINE_CACHE_DOCS lists
# a call that takes longer than ENGINE_TIMEOUT seconds costs its process.
TODOS_ENGINE_WORKERS = int(os.environ.get("TODOS_ENGINE_WORKERS", "2"))
TODOS_ENGINE_TIMEOUT = float(os.environ.get("TODOS_ENGINE_TIMEOUT", "60"))
TODOS_ENGINE_CACHE_DOCS = int(os.environ.get("TODOS_ENGINE_CACHE_DOCS", "32"))
# ... and of up to this many bytes of Automerge data per engine process (a loaded
# list of long texts takes about 60 times its saved size in memory).
TODOS_ENGINE_CACHE_BYTES = int(
    os.environ.get("TODOS_ENGINE_CACHE_BYTES", str(32 * 1024 * 1024))
)
# After a write leaves more stored chunks than this, the server replaces them with
# the engine's save() (todos/storage/compaction.py).
TODOS_COMPACT_AFTER_CHUNKS = int(os.environ.get("TODOS_COMPACT_AFTER_CHUNKS", "32"))
# Compact in a background thread of each server process; the unit tests turn it
# off, so a compaction runs at once, in the thread and transaction of the test.
TODOS_COMPACT_IN_BACKGROUND = True
# Presence (todos/presence/): a socket whose process died, or whose tab vanished
# without closing it, disappears from the others' view within this many seconds.
TODOS_PRESENCE_TIMEOUT = env_number("TODOS_PRESENCE_TIMEOUT", float, "30") or 30.0
# Per client address (todos/ratelimit/): writes ("300/s", "1000/m"), new documents
# ("50/h") and bytes stored per UTC day; empty or 0: no limit.
TODOS_WRITE_RATE_LIMIT = os.environ.get("TODOS_WRITE_RATE_LIMIT", "")
TODOS_CREATE_RATE_LIMIT = os.environ.get("TODOS_CREATE_RATE_LIMIT", "")
try:
    TODOS_MAX_CLIENT_BYTES = int(os.environ.get("TODOS_MAX_CLIENT_BYTES") or 0)
except ValueError:
    raise ImproperlyConfigured(
        f"TODOS_MAX_CLIENT_BYTES={os.environ['TODOS_MAX_CLIENT_BYTES']!r}: write a "
        "whole number of bytes per day, such as 268435456 for 256 MiB, or 0 for "
        "no limit."
    ) from None
# Proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the
# client; from any other peer the header is ignored (todos/ratelimit/address.py).
TODOS_TRUSTED_PROXIES = os.environ.get("TODOS_TRUSTED_PROXIES", "")

# Prometheus metrics at /metrics (todo_site/metrics.py): off unless TODOS_METRICS=1;
# then served to TODOS_METRICS_ALLOWED_NETWORKS (loopback by default) or to a
# request with "Authorization: Bearer <TODOS_METRICS_TOKEN>".
TODOS_METRICS = os.environ.get("TODOS_METRICS", "0") == "1"
TODOS_METRICS_ALLOWED_NETWORKS = os.environ.get(
    "TODOS_METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128"
)
TODOS_METRICS_TOKEN = os.environ.get("TODOS_METRICS_TOKEN", "")

# The cache holds the limits' counters: Redis at CACHE_URL, shared by every
# process and updated atomically; without it, each process's local memory.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            # A stalled Redis costs a request 2 s at most, never a hang.
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# With DEBUG off the site is assumed to be served over HTTPS, so `manage.py check
# --deploy` is clean. Each switch can be turned off for a plain-HTTP deployment
# (DJANGO_SECURE_SSL_REDIRECT=0, DJANGO_HSTS_SECONDS=0, DJANGO_SECURE_COOKIES=0).
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from
# clients), set DJANGO_TRUST_X_FORWARDED_PROTO=1 so redirects do not loop.
if not DEBUG:
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# TODOS_LOG_FORMAT=json writes one JSON object per line (python-json-logger); each
# write's line has its fields as keys (todos/writelog.py). Default: plain text.
TODOS_LOG_FORMAT = os.environ.get("TODOS_LOG_FORMAT", "text").strip().lower() or "text"
if TODOS_LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(
        f"TODOS_LOG_FORMAT={TODOS_LOG_FORMAT!r}: use 'text' (the default) or 'json'."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": TODOS_LOG_FORMAT}
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "todos": {"level": os.environ.get("TODOS_LOG_LEVEL", "INFO")},
        "daphne.server": {"level": "INFO"},  # "Listening on TCP address ..."
    },
}
