"""Settings, read only from the environment (see docs/operations.md for every variable).

`CDS_ENV=production` turns the development conveniences off; system checks in
`config.checks` then refuse to start with an unsafe configuration.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from config.env import env_bool, env_int, env_list, env_path, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("CDS_VAR_DIR", BASE_DIR / "var")

CDS_ENV = env_str("CDS_ENV", "development")
IS_PRODUCTION = CDS_ENV == "production"

# A development key is derived only outside production; config.checks refuses it there.
DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105
SECRET_KEY = env_str("CDS_SECRET_KEY", "" if IS_PRODUCTION else DEV_SECRET_KEY)
DEBUG = env_bool("CDS_DEBUG", False)
ALLOWED_HOSTS = env_list("CDS_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "config",
    "ehr_integration",
    "cds",
    "privacy",
    "audit",
]

MIDDLEWARE = [
    "config.middleware.BodySizeLimitMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("CDS_DB_CONN_MAX_AGE", 60, minimum=0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several gunicorn workers append to one SQLite file: wait for the write lock
    # instead of failing, and take it at BEGIN so read-then-write never deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Gunicorn sync workers are single-threaded, so a worker may keep its SQLite
    # connection: reopening it (and re-running the PRAGMAs) cost ~3 ms of every hook call.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_redis_url = env_str("CDS_REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}
        if _redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
LOGIN_URL = "/admin/login/"

# Django's own limit doubles ours: a body over it never reaches a view.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("CDS_MAX_BODY_BYTES", 5 * 1024 * 1024, minimum=1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Privacy-preserving CDS",
    "DESCRIPTION": "CDS Hooks 2.0 services and the integrator API (EHR client registry).",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# CORS only on the CDS Hooks surface: EHR front ends (e.g. the CDS Hooks Sandbox) call it
# from the browser and preflight without credentials. Admin and API stay same-origin.
CORS_URLS_REGEX = r"^/cds-services(/.*)?$"
CORS_ALLOW_ALL_ORIGINS = env_bool("CDS_CORS_ALLOW_ALL_ORIGINS", True)
CORS_ALLOWED_ORIGINS = env_list("CDS_CORS_ALLOWED_ORIGINS", [])
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["authorization", "content-type", "accept", "origin"]
CORS_ALLOW_METHODS = ["GET", "POST", "OPTIONS"]
CORS_PREFLIGHT_MAX_AGE = 86400

# Namespaced product settings (django-oauth-toolkit style); config.checks validates them.
CDS_HOOKS = {
    # The exact public URL EHRs call: `aud` is checked against it, never the Host header.
    "PUBLIC_BASE_URL": env_str("CDS_PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
    "JWT_ALGORITHMS": env_list("CDS_JWT_ALGORITHMS", ["ES384", "RS384", "ES256", "RS256", "PS384"]),
    "JWT_LEEWAY_SECONDS": env_int("CDS_JWT_LEEWAY_SECONDS", 30, minimum=0),
    "JWT_MAX_LIFETIME_SECONDS": env_int("CDS_JWT_MAX_LIFETIME_SECONDS", 300, minimum=1),
    "JWKS_CACHE_SECONDS": env_int("CDS_JWKS_CACHE_SECONDS", 600, minimum=0),
    "JWKS_FETCH_TIMEOUT_SECONDS": env_int("CDS_JWKS_FETCH_TIMEOUT_SECONDS", 5, minimum=1),
    "JWKS_MAX_BYTES": env_int("CDS_JWKS_MAX_BYTES", 64 * 1024, minimum=1024),
    "MAX_BODY_BYTES": DATA_UPLOAD_MAX_MEMORY_SIZE,
    "FHIR_TIMEOUT_SECONDS": env_int("CDS_FHIR_TIMEOUT_SECONDS", 5, minimum=1),
    "FHIR_MAX_BYTES": env_int("CDS_FHIR_MAX_BYTES", 20 * 1024 * 1024, minimum=1024),
    "FHIR_MAX_PAGES": env_int("CDS_FHIR_MAX_PAGES", 20, minimum=1),
    # Hosts the service may read FHIR from; an EHR's registered fhir_base_url is added.
    "FHIR_HOST_ALLOWLIST": env_list("CDS_FHIR_HOST_ALLOWLIST", []),
    "ALLOW_HTTP_FHIR": env_bool("CDS_ALLOW_HTTP_FHIR", not IS_PRODUCTION),
}

# bench/hooks.py only: routes /bench/bare (see config/bench_views.py); refused in production.
CDS_BENCH_BARE_ENDPOINT = env_bool("CDS_BENCH_BARE_ENDPOINT", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("CDS_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Clinical content: guideline engine and FHIR reading (cds/guidelines, ehr_integration/fhir)
CDS_GUIDELINES: dict[str, object] = {}

# --- Models: registry, training, serving (privacy/)
CDS_PRIVACY: dict[str, object] = {
    # Total (epsilon, delta) one dataset may spend over all DP runs (basic composition).
    "EPSILON_BUDGET": float(env_str("CDS_PRIVACY_EPSILON_BUDGET", "30")),
    "DELTA_BUDGET": float(env_str("CDS_PRIVACY_DELTA_BUDGET", "1e-4")),
    "DEFAULT_DELTA": float(env_str("CDS_PRIVACY_DEFAULT_DELTA", "1e-5")),
    # Shipped demo artifacts that bin/serve activates when a task has no model yet.
    "ARTIFACT_DIR": env_path("CDS_PRIVACY_ARTIFACT_DIR", BASE_DIR / "privacy" / "artifacts"),
    # How long a process trusts its cached "which artifact is active" answer (artifacts
    # themselves load once per process and sha256).
    "ACTIVE_CACHE_SECONDS": env_int("CDS_PRIVACY_ACTIVE_CACHE_SECONDS", 30, minimum=0),
}

# --- Decision log: chain, checkpoints, pseudonyms, review pages (audit/)
# Both keys live outside the database: given as environment values, or else in files under
# KEY_DIR created on first use with mode 0600 (see docs/audit.md, "Keys").
CDS_AUDIT: dict[str, object] = {
    "KEY_DIR": env_path("CDS_AUDIT_KEY_DIR", VAR_DIR / "keys"),
    # hex, >= 32 bytes: HMAC-SHA256 key turning patient ids into pseudonyms
    "PSEUDONYM_KEY": env_str("CDS_AUDIT_PSEUDONYM_KEY", ""),
    # path to a PKCS#8 PEM Ed25519 private key that signs checkpoints
    "SIGNING_KEY_FILE": env_str("CDS_AUDIT_SIGNING_KEY_FILE", ""),
    # a signed checkpoint every N records (0: only by `manage.py audit_checkpoint`)
    "CHECKPOINT_EVERY": env_int("CDS_AUDIT_CHECKPOINT_EVERY", 1000, minimum=0),
}
