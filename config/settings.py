"""Settings for the whole project, driven by the environment.

The README's environment table is the contract; every variable read here
appears there too.
"""

import os
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # A one-line message rather than a traceback: this is an operator error.
        sys.exit("DJANGO_SECRET_KEY is not set: set it, or set DJANGO_DEBUG=1 for development.")
    SECRET_KEY = "django-insecure-development-only-key"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Django's admin with our AdminSite (config.access.logins): login throttling.
    "config.apps.ProjectAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
    "config",
    "config.access",
    "config.caching",
    "movies",
    "catalog",
]

# How Django runs fast under ASGI: config/runtime/ (its __init__ is the
# index). Each piece has its own switch; DJANGO_RUNTIME=0 turns them all off,
# which leaves stock Django: its ASGI handler, middleware, template backend and
# PostgreSQL backend, and the plain async ORM.
RUNTIME = env_bool("DJANGO_RUNTIME", True)
RUNTIME_HANDLER = env_bool("RUNTIME_HANDLER", RUNTIME)
# Requests under this path that carry no cookie skip the session, CSRF,
# authentication and messages middleware (config/runtime/handler.py); "" turns
# that lane off.
RUNTIME_COOKIELESS_PREFIX = os.environ.get("RUNTIME_COOKIELESS_PREFIX", "/api/")
RUNTIME_MIDDLEWARE = env_bool("RUNTIME_MIDDLEWARE", RUNTIME)
RUNTIME_TEMPLATES = env_bool("RUNTIME_TEMPLATES", RUNTIME)
RUNTIME_DB_BACKEND = env_bool("RUNTIME_DB_BACKEND", RUNTIME)
RUNTIME_RESPONSES = env_bool("RUNTIME_RESPONSES", RUNTIME)

# Every middleware here is async-capable: a single sync-only one would make
# every request hop to a thread.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "config.access.middleware.RequestLimitsMiddleware",
    "config.access.middleware.ApiThrottleMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
]
if RUNTIME_MIDDLEWARE:
    # Each of Django's own is replaced by the runtime's subclass of the same
    # name, which spares the thread hop per hook (config/runtime/middleware.py).
    MIDDLEWARE = [
        f"config.runtime.middleware.{path.rsplit('.', 1)[1]}"
        if path.startswith("django.")
        else path
        for path in MIDDLEWARE
    ]
    # Django finds its security, clickjacking and CSRF middleware by dotted
    # path; config.runtime.checks asks for them by class instead.
    SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": (
            "config.runtime.templates.DjangoTemplates"
            if RUNTIME_TEMPLATES
            else "django.template.backends.django.DjangoTemplates"
        ),
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "catalog.context_processors.shop",
            ],
        },
    },
]

# Database: SQLite by default, PostgreSQL through psycopg 3 and Django's pool
# when DATABASE_URL says postgres://. The pool needs CONN_MAX_AGE=0; health
# checks replace connections broken by a database restart.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool(
    "DB_POOL", True
):
    # For WSGI deployments (and the sync benchmark baseline): a persistent
    # connection per worker instead of the pool.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 600)
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 2))
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 2),
        "max_size": env_int("DB_POOL_MAX_SIZE", 10),
        # Seconds a request waits for a free connection before failing.
        "timeout": env_float("DB_POOL_TIMEOUT", 5.0),
        # psycopg_pool retries a failed connection with a doubling delay (1, 2,
        # 4, 8 … s) for this long before giving up; the next request then
        # starts afresh at once. Its default, 300 s, means that after a long
        # outage the pool may wait tens of seconds after the database is
        # back; a few seconds keeps recovery prompt.
        "reconnect_timeout": env_float("DB_POOL_RECONNECT_TIMEOUT", 3.0),
    }
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 2))
else:
    # Wait for a lock rather than failing at once when tests or pages write
    # concurrently.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and RUNTIME_DB_BACKEND:
    # Django's backend, but failing fast while the database is down: see
    # config/runtime/postgresql/base.py and DB_FAIL_FAST_SECONDS below.
    DATABASES["default"]["ENGINE"] = "config.runtime.postgresql"

# Test databases are named per process, so two test runs on one machine never
# drop each other's database, and (for SQLite) live in a file that the uvicorn
# processes started by live-server tests can open too.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _test_db_name = str(Path(tempfile.gettempdir()) / f"django-test-{os.getpid()}.sqlite3")
else:
    _test_db_name = f"test_{DATABASES['default']['NAME']}_{os.getpid()}"
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("DATABASE_TEST_NAME") or _test_db_name}

# Read replicas (streaming standbys of the primary): reads go to one of them,
# writes to the primary, and a client that has just written reads from the
# primary for REPLICA_READ_AFTER_WRITE_SECONDS (config/routers.py). Each
# replica is configured as the primary is (engine, pool, timeouts); tests
# read them as mirrors of the test database.
DATABASE_REPLICAS = []
for _number, _url in enumerate(env_list("DATABASE_REPLICA_URLS", []), start=1):
    _parsed = dj_database_url.parse(_url)
    _replica = dict(DATABASES["default"], OPTIONS=dict(DATABASES["default"].get("OPTIONS", {})))
    for _key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
        _replica[_key] = _parsed.get(_key, "")
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica{_number}"] = _replica  # type: ignore[assignment]
    DATABASE_REPLICAS.append(f"replica{_number}")
REPLICA_READ_AFTER_WRITE_SECONDS = env_float("REPLICA_READ_AFTER_WRITE_SECONDS", 5.0)
if DATABASE_REPLICAS:
    DATABASE_ROUTERS = ["config.routers.PrimaryReplicaRouter"]
    # Before anything reads: the throttle resolves tokens.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("config.access.middleware.RequestLimitsMiddleware"),
        "config.routers.ReadAfterWriteMiddleware",
    )

# Redis (optional): rate-limit counters, Django's cache and cached sessions.
# Without it the counters live in the database, the cache is per process and
# sessions are database rows. While it is unreachable, counters and sessions
# fall back to the database (config/redis_client.py).
REDIS_URL = os.environ.get("REDIS_URL", "")
# Seconds to connect or to wait for an answer before treating Redis as down.
REDIS_TIMEOUT = env_float("REDIS_TIMEOUT", 0.5)
# Connections of each worker's event loop to Redis; a call waits for a free one.
REDIS_POOL_SIZE = env_int("REDIS_POOL_SIZE", 20)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT},
        }
    }
    # Django's cached_db, reading the database when the cache fails.
    SESSION_ENGINE = "config.sessions"

# CORS for the API (django-cors-headers): origins such as
# "https://app.example" that may call /api/ from a browser. None by default;
# never "*", and no cookies cross origins: such callers send a bearer token.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/"
CORS_ALLOW_CREDENTIALS = False
CORS_PREFLIGHT_MAX_AGE = env_int("CORS_PREFLIGHT_MAX_AGE", 600)
if CORS_ALLOWED_ORIGINS:
    INSTALLED_APPS.append("corsheaders")
    # Ahead of the size limits and the throttle: a preflight is answered
    # before them, so it is never counted, and their refusals carry CORS
    # headers a browser script can read.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("config.access.middleware.RequestLimitsMiddleware"),
        "corsheaders.middleware.CorsMiddleware",
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalog:profile"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# English only, so no translation machinery: with it on, every number and
# URL a template renders asks the translation layer for the active language,
# a measurable share of a page's time (docs/performance.md). Formats still
# follow LANGUAGE_CODE.
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# ServeStatic (async-capable, unlike whitenoise) serves straight from the app
# folders, so no collectstatic step is needed to run or test.
SERVESTATIC_USE_FINDERS = True
SERVESTATIC_AUTOREFRESH = DEBUG

# Production hardening, on whenever debug is off.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# Preload is what `check --deploy` asks for and what hstspreload.org needs; turn
# it off for a domain whose subdomains are not all on HTTPS.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", SECURE_HSTS_SECONDS >= 31536000)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "config.views.csrf_failure"

# Sent on HTML responses only (config.middleware): our pages, the admin and
# the API docs load scripts, styles and fonts from this origin alone.
CONTENT_SECURITY_POLICY = os.environ.get("DJANGO_CSP") or (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# The catalog's tax rate, as in the seed article.
TAX_RATE = Decimal(os.environ.get("TAX_RATE", "0.10"))
# The shop's one currency: the ISO 4217 code goes with every amount in the
# API and the mails; the symbol leads every price on pages, mails and admin.
CURRENCY_CODE = (os.environ.get("CURRENCY_CODE") or "USD").strip().upper()
CURRENCY_SYMBOL = os.environ.get("CURRENCY_SYMBOL", "$")

# Mail (order confirmations, password resets): printed on the console in
# debug, sent over SMTP otherwise. Tests use Django's in-memory outbox.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Reel & Shelf <shop@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The site's address for links in mails sent outside a request (an order
# placed through the API); password-reset links use the request's host.
SITE_URL = (os.environ.get("SITE_URL") or "http://127.0.0.1:8000").rstrip("/")

# Long-lived threads that run sync work (sync views, async ORM calls) for the
# ASGI handler (config/runtime/handler.py), per worker process. Sync views are mostly
# CPU (templates, model instances) under one GIL: more threads only contend
# with each other and with the event loop, which then answers late (measured
# in bench/RESULTS.md). Requests waiting on a dead database
# do not hold the threads up for long: see DB_FAIL_FAST_SECONDS.
ASGI_SYNC_THREADS = env_int("ASGI_SYNC_THREADS", 2)

# The ASGI handler's start-up freezes the objects of start-up out of the
# garbage collector's way, then collects young objects every this many
# allocations (config.runtime.handler.tune_garbage_collector). CPython's 700 keeps
# memory flat; a larger number spends less CPU on collecting and more memory.
ASGI_GC_GEN0_THRESHOLD = env_int("ASGI_GC_GEN0_THRESHOLD", 700)

# After a failed attempt to get a database connection, other attempts in this
# many seconds fail at once (503) instead of each waiting DB_POOL_TIMEOUT; then
# one request at a time probes until the database answers. 0 turns it off.
DB_FAIL_FAST_SECONDS = env_float("DB_FAIL_FAST_SECONDS", 1.0)

# Seconds one statement may take on PostgreSQL: the server cancels it
# (statement_timeout, lock waits included), and the runtime's backend closes a
# connection that gets no answer a second later (a stopped server). Either is a
# 503. 0 turns both off, for a long migration or import. Management commands
# honour it too.
DB_QUERY_TIMEOUT = env_float("DB_QUERY_TIMEOUT", 5.0)
for _database in DATABASES.values():
    if "postgresql" in _database["ENGINE"] and DB_QUERY_TIMEOUT > 0:
        _options = _database["OPTIONS"] = dict(_database.get("OPTIONS", {}))
        _options["options"] = (
            f"{_options.get('options', '')} -c statement_timeout={round(DB_QUERY_TIMEOUT * 1000)}"
        ).strip()

# Hot read endpoints run their ORM-compiled SQL on an async psycopg pool on
# PostgreSQL (config/runtime/native_db.py); these size that pool, per worker process.
NATIVE_ASYNC_DB = env_bool("NATIVE_ASYNC_DB", RUNTIME)
NATIVE_ASYNC_DB_POOL_MIN_SIZE = env_int("NATIVE_ASYNC_DB_POOL_MIN_SIZE", 2)
NATIVE_ASYNC_DB_POOL_MAX_SIZE = env_int("NATIVE_ASYNC_DB_POOL_MAX_SIZE", 10)
# Native reads run as statements prepared per connection; off behind a
# pooler that does not keep a session's prepared statements (PgBouncer in
# transaction mode).
NATIVE_ASYNC_DB_PREPARE = env_bool("NATIVE_ASYNC_DB_PREPARE", True)
# Under load, the statements of up to this many concurrent requests share one
# round trip on one connection (native_db.SharedRoundTrips); 1: each its own.
NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS = env_int("NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS", 16)
# Within such a round trip (one snapshot), identical reads are sent once
# (native_db.RepeatedReads).
NATIVE_ASYNC_DB_SHARE_REPEATED_READS = env_bool("NATIVE_ASYNC_DB_SHARE_REPEATED_READS", True)

# /readyz gives up on the database after this many seconds: under the 2 s a
# load balancer is promised, with room for the response itself.
READYZ_TIMEOUT = env_float("READYZ_TIMEOUT", 1.5)

# Abuse limits (config.access.ratelimit): "N/period" such as "120/min" or "5/15min",
# or "off". Counters live in Redis with REDIS_URL, in the database otherwise,
# so they hold across processes and hosts.
API_THROTTLE_ANON = os.environ.get("API_THROTTLE_ANON", "120/min")  # per client address
API_THROTTLE_TOKEN = os.environ.get("API_THROTTLE_TOKEN", "600/min")  # per token, any call
API_THROTTLE_WRITE = os.environ.get("API_THROTTLE_WRITE", "60/min")  # per token, writes
LOGIN_THROTTLE = os.environ.get("LOGIN_THROTTLE", "5/15min")  # failures per user and address
# failures per address, across user names
LOGIN_THROTTLE_ADDRESS = os.environ.get("LOGIN_THROTTLE_ADDRESS", "20/15min")
# Reset requests per client address, and per email address asked about.
PASSWORD_RESET_THROTTLE = os.environ.get("PASSWORD_RESET_THROTTLE", "5/hour")
SIGNUP_THROTTLE = os.environ.get("SIGNUP_THROTTLE", "10/hour")  # sign-ups per client address
TOKEN_CREATE_THROTTLE = os.environ.get("TOKEN_CREATE_THROTTLE", "10/hour")  # tokens a user makes
# Proxies in front of the app that append to X-Forwarded-For. This one
# setting decides whether forwarded headers count at all: with 0 (no proxy
# declared) X-Forwarded-For and X-Forwarded-Proto are ignored, since any
# client can send them; config.runtime.serve then runs uvicorn without proxy
# headers and Django has no SECURE_PROXY_SSL_HEADER. With N > 0, uvicorn
# believes them from TRUSTED_PROXY_IPS only (the proxies' addresses, or "*"),
# the rate limits take the address N hops from the right of X-Forwarded-For,
# and X-Forwarded-Proto: https makes a request secure.
# Running `uvicorn config.asgi:application` by hand instead: uvicorn trusts
# these headers from 127.0.0.1 unless told otherwise, so pass
# --no-proxy-headers with no proxy, or --forwarded-allow-ips (FORWARDED_ALLOW_IPS)
# set to the proxies' addresses with one.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
TRUSTED_PROXY_IPS = env_list("TRUSTED_PROXY_IPS", ["127.0.0.1", "::1"])
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Input bounds: bodies, form fields, query strings (config.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DJANGO_MAX_BODY_BYTES", 256 * 1024)
# Seconds a request's whole body may take to arrive once the app starts
# reading it; then 408 and the connection is closed. Enforced, with the size
# limit above, before Django reads the body (config/access/body_limits.py).
BODY_TIMEOUT = env_float("DJANGO_BODY_TIMEOUT", 10.0)
# Seconds from a connection's opening (or a keep-alive request's first byte)
# to the end of its request head; then the connection is closed. Enforced by
# config.runtime.serve's HTTP protocol; plain uvicorn has no such bound, and
# bounds only the idle time between keep-alive requests (5 s).
HEAD_TIMEOUT = env_float("DJANGO_HEAD_TIMEOUT", 10.0)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env_int("DJANGO_MAX_FIELDS", 500)
MAX_QUERY_STRING_LENGTH = env_int("DJANGO_MAX_QUERY_STRING", 2048)

# API pagination: default page size and the hard maximum.
API_PAGE_SIZE = 10
API_MAX_PAGE_SIZE = 100
NINJA_PAGINATION_PER_PAGE = API_PAGE_SIZE
NINJA_PAGINATION_MAX_LIMIT = API_MAX_PAGE_SIZE
# @paginate without a class: limit/offset with a bounded offset.
NINJA_PAGINATION_CLASS = "config.pagination.Pagination"

# Seconds a public API read may be reused before asking again with its ETag
# (Cache-Control: public, max-age); 0 revalidates every time (config/caching/).
_api_cache_max_age = (os.environ.get("API_CACHE_MAX_AGE") or "0").strip()
if not (_api_cache_max_age.isascii() and _api_cache_max_age.isdigit()):
    sys.exit(f"API_CACHE_MAX_AGE must be a whole number of seconds, not {_api_cache_max_age!r}.")
API_CACHE_MAX_AGE = int(_api_cache_max_age)

# Observability (config/observability/): one access line per request,
# request ids, Server-Timing on the API, Prometheus metrics. OBSERVABILITY=0
# turns all of it off; ACCESS_LOG=0 the access lines alone.
OBSERVABILITY = env_bool("OBSERVABILITY", True)
ACCESS_LOG = env_bool("ACCESS_LOG", True)
# "text": readable lines (the default in debug); "json": one JSON object per
# line, for a log pipeline (the default otherwise).
LOG_FORMAT = (os.environ.get("LOG_FORMAT") or ("text" if DEBUG else "json")).strip().lower()
if LOG_FORMAT not in {"text", "json"}:
    sys.exit(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
# /metrics answers only these client addresses or networks (as trusted, see
# TRUSTED_PROXY_COUNT) or a request with "Authorization: Bearer METRICS_TOKEN";
# with neither set (the default) there is no /metrics and nothing is counted.
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", [])
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# Every handler scrubs tokens, Authorization and Cookie headers and password
# fields from records (config.access.log_filters) and stamps them with the
# request's id (config.observability.logs); Django's own "django" logger keeps
# no handlers of its own and passes its records to these.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "config.access.log_filters.RedactSecretsFilter"},
        "request_id": {"()": "config.observability.logs.RequestIdFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "config.observability.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_secrets", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {
            "handlers": [],
            "level": os.environ.get("LOG_LEVEL", "INFO"),
            "propagate": True,
        },
        "django.db.backends": {"level": "INFO"},
    },
}
# Error reports (the debug page, mail to admins) hide Authorization and Cookie
# headers and password-like POST fields.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.access.log_filters.SafeReporterFilter"
