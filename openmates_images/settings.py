"""Settings for openmates-images, read once from the environment.

Every adapter is chosen independently by whether its variable is set:

* ``DATABASE_URL`` unset      -> SQLite under ``DATA_DIR``
* ``REDIS_URL`` unset         -> in-process Dramatiq workers and an in-memory channel layer
* ``S3_ENDPOINT_URL``/``S3_BUCKET`` unset -> the local encrypted object store under ``DATA_DIR``
* ``VAULT_ADDR`` unset        -> the local keyring (master key in ``DATA_DIR`` or ``KEYRING_MASTER_KEY``)

So a bare ``make run`` is the embedded default, and production sets the four variables.
This is the only module that reads ``os.environ``; apps read ``settings.EMBEDS`` and
``settings.GENERATION`` through their ``conf.py``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
env = os.environ.get


def _flag(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_from_url(url: str, *, worker_threads: int) -> dict:
    """Parse ``postgres://user:pass@host:port/name`` or ``sqlite:///path`` into a DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parsed.path) or ":memory:",
            # IMMEDIATE: a transaction takes the write lock first, which per-user limits rely on.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ValueError(
            f"DATABASE_URL scheme {parsed.scheme!r} is not supported (use postgres:// or sqlite://)"
        )
    options: dict = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    # Under ASGI every request runs in a thread of its own, so per-thread persistent connections
    # would pile up to max_connections: a process-wide pool instead (Django's psycopg pool).
    # A worker thread holds its connection for the whole task, so a worker process needs at
    # least one per thread (plus the reaper's) or its threads time out waiting for one.
    options["pool"] = {
        "min_size": 1,
        "max_size": int(env("DATABASE_POOL_SIZE", str(max(10, worker_threads + 2)))),
        "timeout": float(env("DATABASE_POOL_TIMEOUT", "10")),
    }
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "OPTIONS": options,
        "CONN_MAX_AGE": 0,  # the pool keeps connections; Django requires 0 with it
    }


DATA_DIR = Path(env("DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """Use SECRET_KEY, or create one once under DATA_DIR so sessions survive restarts."""
    if env("SECRET_KEY"):
        return env("SECRET_KEY", "")
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _flag("DEBUG")
ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "accounts",
    "embeds",
    "generation",
    "chats",
    "sharing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "openmates_images.csp.content_security_policy",
]

ROOT_URLCONF = "openmates_images.urls"
ASGI_APPLICATION = "openmates_images.asgi.application"
WSGI_APPLICATION = None

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

DATABASE_URL = env("DATABASE_URL", "")
WORKER_THREADS = int(env("WORKER_THREADS", "2"))  # per worker process; sizes its database pool too
DATABASES = {
    "default": _database_from_url(DATABASE_URL, worker_threads=WORKER_THREADS)
    if DATABASE_URL
    else {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "db.sqlite3"),
        # WAL lets the in-process workers write while requests read.
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from finders until collectstatic
WHITENOISE_USE_FINDERS = True

# --- object storage: the "chatfiles" bucket --------------------------------------------------
S3_ENDPOINT_URL = env("S3_ENDPOINT_URL", "")
S3_BUCKET = env("S3_BUCKET", "")
USE_S3 = bool(S3_ENDPOINT_URL or S3_BUCKET)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "chatfiles": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": S3_BUCKET or "chatfiles",
                "endpoint_url": S3_ENDPOINT_URL or None,
                "access_key": env("AWS_ACCESS_KEY_ID"),
                "secret_key": env("AWS_SECRET_ACCESS_KEY"),
                "region_name": env("S3_REGION", "us-east-1"),
                "default_acl": None,
                "file_overwrite": True,
                "querystring_auth": False,
                "object_parameters": {"ContentType": "application/octet-stream"},
            },
        }
        if USE_S3
        else {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {
                "location": str(DATA_DIR / "objects"),
                "file_permissions_mode": 0o600,
                "allow_overwrite": True,
            },
        }
    ),
}

# --- Redis: Dramatiq broker and channel layer ------------------------------------------------
REDIS_URL = env("REDIS_URL", "")
DRAMATIQ_NAMESPACE = env("DRAMATIQ_NAMESPACE", "openmates-images")
CHANNEL_LAYERS = {
    "default": (
        {
            "BACKEND": "core.channel_layer.RedisChannelLayer",
            "CONFIG": {
                # channels-redis waits for messages with a 5 s blocking pop; redis-py 8 reads with
                # a 5 s socket timeout by default, so an idle socket would race its own timeout
                # and drop. Reads get room beyond the pop; a dead server is still noticed.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "health_check_interval": 15}],
                "prefix": env("CHANNELS_PREFIX", "openmates-images"),
            },
        }
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}

# --- app settings (read through embeds/conf.py and generation/conf.py) -----------------------
EMBEDS = {
    "KEYRING": "vault" if env("VAULT_ADDR") else "local",
    "VAULT_ADDR": env("VAULT_ADDR", ""),
    "VAULT_TOKEN": env("VAULT_TOKEN", ""),
    "VAULT_TRANSIT_MOUNT": env("VAULT_TRANSIT_MOUNT", "transit"),
    "VAULT_KEY_PREFIX": env("VAULT_KEY_PREFIX", "openmates-user-"),
    "VAULT_TIMEOUT": float(env("VAULT_TIMEOUT", "10")),
    "KEYRING_MASTER_KEY": env("KEYRING_MASTER_KEY", ""),
    "KEYRING_MASTER_KEY_FILE": str(DATA_DIR / "keyring_master.key"),
    "UPLOAD_MAX_BYTES": int(env("UPLOAD_MAX_BYTES", str(20 * 1024 * 1024))),
    "MAX_IMAGE_PIXELS": int(env("MAX_IMAGE_PIXELS", str(40_000_000))),
    "IMAGE_MEMORY_BUDGET_BYTES": int(env("IMAGE_MEMORY_BUDGET_MB", "0")) * 1024 * 1024,  # 0: sized to RAM
    "IMAGE_QUEUE_SECONDS": float(env("IMAGE_QUEUE_SECONDS", "20")),
    "PREVIEW_MAX_SIZE": (600, 400),
    "FULL_WEBP_QUALITY": int(env("FULL_WEBP_QUALITY", "90")),
    "PREVIEW_WEBP_QUALITY": int(env("PREVIEW_WEBP_QUALITY", "82")),
    "FILE_CACHE_SECONDS": int(env("FILE_CACHE_SECONDS", "31536000")),
    "C2PA_SIGN_CERT": env("C2PA_SIGN_CERT", ""),
    "C2PA_PRIVATE_KEY": env("C2PA_PRIVATE_KEY", ""),
    "C2PA_TSA_URL": env("C2PA_TSA_URL", ""),
    "C2PA_LOCAL_PKI_DIR": str(DATA_DIR / "c2pa"),
    "CREDIT_LINE": env("CREDIT_LINE", "Generated with AI by OpenMates"),
    # Unwrapped data keys kept in a web process's memory (README "Performance and caches");
    # DATA_KEY_CACHE_SECONDS=0 turns the cache off.
    "DATA_KEY_CACHE_SECONDS": float(env("DATA_KEY_CACHE_SECONDS", "300")),
    "DATA_KEY_CACHE_MAX_USES": int(env("DATA_KEY_CACHE_MAX_USES", "1000")),
    "DATA_KEY_CACHE_MAX_ENTRIES": int(env("DATA_KEY_CACHE_MAX_ENTRIES", "1000")),
    "UPLOAD_RATE_LIMIT_PER_MINUTE": int(env("UPLOAD_RATE_LIMIT_PER_MINUTE", "30")),
}

GENERATION = {
    "DEFAULT_MODEL": env("IMAGES_DEFAULT_MODEL", "local/procedural"),
    "QUEUE": "app_images",
    "MAX_RETRIES": int(env("GENERATION_MAX_RETRIES", "4")),
    "RETRY_MIN_BACKOFF_MS": int(env("GENERATION_RETRY_MIN_BACKOFF_MS", "1000")),
    "RETRY_MAX_BACKOFF_MS": int(env("GENERATION_RETRY_MAX_BACKOFF_MS", "60000")),
    "STALE_TASK_SECONDS": int(env("STALE_TASK_SECONDS", "900")),
    "REAPER_INTERVAL_SECONDS": float(env("REAPER_INTERVAL_SECONDS", "60")),
    "INPROCESS_WORKERS": not REDIS_URL,
    "WORKER_THREADS": WORKER_THREADS,
    "RATE_LIMIT_PER_MINUTE": int(env("GENERATION_RATE_LIMIT_PER_MINUTE", "30")),
    "MAX_CONCURRENT_PER_USER": int(env("GENERATION_MAX_CONCURRENT_PER_USER", "8")),
    "GOOGLE_API_KEY": env("GOOGLE_API_KEY", ""),
    "GEMINI_BASE_URL": env("GEMINI_BASE_URL", "https://generativelanguage.googleapis.com"),
    "GEMINI_API_VERSION": env("GEMINI_API_VERSION", "v1beta"),
    "GEMINI_TIMEOUT": float(env("GEMINI_TIMEOUT", "300")),
    "FAL_KEY": env("FAL_KEY", ""),
    "FAL_QUEUE_BASE_URL": env("FAL_QUEUE_BASE_URL", "https://queue.fal.run"),
    "FAL_RUN_BASE_URL": env("FAL_RUN_BASE_URL", "https://fal.run"),
    "FAL_TIMEOUT": float(env("FAL_TIMEOUT", "300")),
    "FAL_POLL_INTERVAL": float(env("FAL_POLL_INTERVAL", "0.5")),
    "SERPAPI_API_KEY": env("SERPAPI_API_KEY", ""),
    "SERPAPI_BASE_URL": env("SERPAPI_BASE_URL", "https://serpapi.com"),
    "SERPAPI_ENGINE": env("SERPAPI_ENGINE", "google_lens"),
    "SERPAPI_TIMEOUT": float(env("SERPAPI_TIMEOUT", "60")),
    "PUBLIC_BASE_URL": env("PUBLIC_BASE_URL", f"http://127.0.0.1:{env('PORT', '8000')}"),
    "PROVIDER_DOWNLOAD_MAX_BYTES": int(env("PROVIDER_DOWNLOAD_MAX_BYTES", str(50 * 1024 * 1024))),
    "WEBHOOK_ALLOW_PRIVATE": _flag("WEBHOOK_ALLOW_PRIVATE"),
    "TEST_PROMPT_HOOKS": _flag("TEST_PROMPT_HOOKS"),
    # Dotted path of a callable run before each pipeline stage (fault injection in the worker
    # crash tests); empty, as in production, runs none.
    "STAGE_HOOK": env("GENERATION_STAGE_HOOK", ""),
    "PROVIDER_CHECK_INTERVAL_SECONDS": float(env("PROVIDER_CHECK_INTERVAL_SECONDS", "1800")),
    # Image analysis (questions about an image): empty = Gemini when GOOGLE_API_KEY is set, else offline.
    "ANALYSIS_DEFAULT_MODEL": env("IMAGES_ANALYSIS_MODEL", ""),
}

# --- REST --------------------------------------------------------------------------------------
# API-key lookups cached per process, emptied in every process by any revocation (README
# "Performance and caches"); 0 turns the cache off.
API_KEY_CACHE_SECONDS = float(env("API_KEY_CACHE_SECONDS", "60"))
# Threads per web process for the blocking part (database, object store, keyring) of the two
# reads served in the event loop (core/hot_path.py); each holds at most one pooled
# database connection, and only for the length of one call.
# ASYNC_HOT_READS=0 sends those two reads the sync (one-hop) way like every other request.
ASYNC_HOT_READS = _flag("ASYNC_HOT_READS", True)
HOT_PATH_IO_THREADS = int(env("HOT_PATH_IO_THREADS", "8"))
# REST_FRAMEWORK's two authentication classes, for the reads served in the event loop.
HOT_READ_AUTHENTICATOR = "accounts.authentication.authenticate_read"
# Visits to share pages per client IP per minute (README "Share links").
SHARE_RATE_PER_MINUTE = int(env("SHARE_RATE_PER_MINUTE", "60"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.json_input.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # `?format=` selects an image rendition here, not a DRF renderer.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "openmates-images API",
    "DESCRIPTION": "Generate, store and edit images as encrypted embeds.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page loads its JavaScript from our static files, not a CDN: it works offline and
    # makes no third-party requests. (No Redoc page: its bundle fetches fonts and a logo from
    # third parties.)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = _flag("SECURE_COOKIES")
CSRF_COOKIE_SECURE = _flag("SECURE_COOKIES")
# JSON bodies are read whole: allow up to the ASGI body cap (an edit's mask may be ~12 MB of
# base64), so a body the cap lets through is judged by the serializer, not refused by Django.
DATA_UPLOAD_MAX_MEMORY_SIZE = EMBEDS["UPLOAD_MAX_BYTES"] + 1024 * 1024

LOG_LEVEL = env("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},  # google-genai's HTTP client
        "google_genai": {"level": "WARNING"},
        "werkzeug": {"level": "WARNING"},
    },
}
