"""Settings, all from environment variables.

Development is the zero-configuration default: SQLite and a sandbox export root under the
checkout, a secret key generated once into var/. Production (MAILADMIN_ENV=production) refuses
to start while anything it needs is missing, and says what.
"""

import base64
import hmac
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MAILADMIN_VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envsecret(name: str) -> str:
    """Read NAME, or the contents of the file named by NAME_FILE (for Docker/systemd secrets)."""
    if path := os.environ.get(f"{name}_FILE"):
        try:
            return Path(path).read_text().strip()
        except OSError as e:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {e}") from None
    return os.environ.get(name, "")


def development_secret(name: str, make) -> str:
    """A secret generated once into var/ so that development needs no configuration."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


ENVIRONMENT = env("MAILADMIN_ENV", "development")
if ENVIRONMENT not in ("development", "production"):
    raise ImproperlyConfigured("MAILADMIN_ENV must be development or production")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = envbool("DEBUG", not PRODUCTION)
SECRET_KEY = envsecret("SECRET_KEY") or (
    "" if PRODUCTION else development_secret("dev-secret-key", lambda: secrets.token_urlsafe(50))
)
# Encrypts DKIM private keys at rest (a Fernet key). Losing it makes stored keys unusable.
DKIM_ENCRYPTION_KEY = envsecret("DKIM_ENCRYPTION_KEY") or (
    ""
    if PRODUCTION
    else development_secret("dev-dkim-encryption-key", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode())
)
ALLOWED_HOSTS = [h for h in env("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1]").split(",") if h]

if PRODUCTION:
    required = [
        ("SECRET_KEY", SECRET_KEY),
        ("ALLOWED_HOSTS", ALLOWED_HOSTS),
        ("DKIM_ENCRYPTION_KEY", DKIM_ENCRYPTION_KEY),
    ]
    missing = [name for name, value in required if not value]
    if missing:
        raise ImproperlyConfigured(f"production needs {', '.join(missing)} set in the environment")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "core",
    "audit",
    "accounts",
    "domains",
    "dnsrecords",
    "export",
    "factors",
    "rest_framework",
    "drf_spectacular",
    "api",
    "transfer",
    "adopt",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.MailboxSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "factors.middleware.SecondFactorSetupMiddleware",
]

ROOT_URLCONF = "mailadmin.urls"
WSGI_APPLICATION = "mailadmin.wsgi.application"

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
                "accounts.context_processors.roles",
                "export.context_processors.config_state",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

# Forms draw their fields with Django's own Jinja2 templates: the same HTML, a third of the
# time (the domain page's two add forms took 4.7 ms of its 13.6 with the template language).
FORM_RENDERER = "django.forms.renderers.Jinja2"

DATABASES = {
    "default": dj_database_url.parse(env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=60)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets page views read while an edit commits; IMMEDIATE avoids "database is locked"
    # upgrades from read to write transactions under concurrent requests.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests use a file too: an in-memory database shared between threads locks whole tables
    # instead of waiting, which the live-server tests' concurrent requests would trip over.
    # One per test process: two runs in one checkout must not share (and corrupt) one file.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    # The database holds sessions and hashes: create it readable by its owner only (SQLite
    # gives its -wal and -shm files the database file's mode). An existing file keeps its mode.
    _sqlite = Path(DATABASES["default"]["NAME"])
    if _sqlite.parent.is_dir() and not _sqlite.exists():
        os.close(os.open(_sqlite, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "first_name", "last_name", "email", "local_part", "display_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Failed logins: after this many failures for one account (or many more from one client
# address) within the window, further attempts are refused until the window has passed.
LOGIN_FAILURES_PER_ACCOUNT = envint("LOGIN_FAILURES_PER_ACCOUNT", 5)
LOGIN_FAILURES_PER_CLIENT = envint("LOGIN_FAILURES_PER_CLIENT", 20)
LOGIN_FAILURE_WINDOW_SECONDS = envint("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
# Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or networks,
# e.g. "127.0.0.1,::1" behind the documented nginx). Empty: the peer address is the client.
TRUSTED_PROXIES = [p.strip() for p in env("TRUSTED_PROXIES", "").split(",") if p.strip()]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = [o for o in env("CSRF_TRUSTED_ORIGINS").split(",") if o]
if PRODUCTION:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    # Covers only names under the panel's own host name, which are the panel's too.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    # Preloading is for a registrable domain's apex, which the panel's host name seldom is.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "static")))

# The mail host the panel runs: shown to mailbox users as their client settings, and used by
# the exporters. EXPORT_ROOT is "/" in production and a sandbox under the checkout otherwise.
MAIL_HOSTNAME = env("MAIL_HOSTNAME", "mail.example.test")
EXPORT_ROOT = Path(env("EXPORT_ROOT", "/" if PRODUCTION else str(VAR_DIR / "export-root")))
HELPER_SOCKET = Path(env("HELPER_SOCKET", "/run/mailadmin/helper.sock" if PRODUCTION else str(VAR_DIR / "helper.sock")))
DNS_RESOLVERS = [r for r in env("DNS_RESOLVERS").split(",") if r]
DNS_PORT = envint("DNS_PORT", 53)
DNS_AUTHORITATIVE_PORT = envint("DNS_AUTHORITATIVE_PORT", 53)  # tests serve zones on a loopback port
DNS_TIMEOUT = float(env("DNS_TIMEOUT", "2"))
# The mail host's public addresses (A/AAAA, PTR, SPF), and the web server's for mta-sts.<domain>.
MAIL_PUBLIC_ADDRESSES = [a.strip() for a in env("MAIL_PUBLIC_ADDRESSES").split(",") if a.strip()]
MTA_STS_ADDRESSES = [a.strip() for a in env("MTA_STS_ADDRESSES").split(",") if a.strip()]
STAGING_DIR = Path(env("STAGING_DIR", "/var/lib/mailadmin/staging" if PRODUCTION else str(VAR_DIR / "staging")))

# The daemons' configuration around the tables (core.mailhost.HostConfig): only what
# is set here overrides the Debian 12 defaults written there.
_MAIL_HOST_ENV = {
    "MAIL_LISTEN": ("listen", lambda v: tuple(a.strip() for a in v.split(",") if a.strip())),
    "MAIL_TLS_CERT": ("tls_cert", str),
    "MAIL_TLS_KEY": ("tls_key", str),
    "LMTP_CLIENT_USER": ("lmtp_client_user", str),
    "VMAIL_UID": ("vmail_uid", int),
    "VMAIL_GID": ("vmail_gid", int),
    "VMAIL_HOME": ("vmail_home", str),
    "DOVECOT_LMTP_SOCKET": ("lmtp_socket", str),
    "RSPAMD_URL": ("rspamd_url", str),
    "MAIL_RELAY_HOST": ("relay_host", str),
    "POSTMASTER_ADDRESS": ("postmaster", str),
    "MAIL_USAGE_DIR": ("usage_dir", str),
}
MAIL_HOST = {field: parse(os.environ[name]) for name, (field, parse) in _MAIL_HOST_ENV.items() if os.environ.get(name)}
# The key OpenSMTPD signs SRS addresses with (forwarded mail's envelope senders, so bounces come
# back). Set SRS_KEY(_FILE) to keep it apart; by default it is derived from SECRET_KEY, so it
# needs no configuration and changes only when SECRET_KEY does.
SRS_KEY = envsecret("SRS_KEY") or hmac.new(SECRET_KEY.encode(), b"mailadmin srs key", "sha256").hexdigest()

PAGE_SIZE = envint("PAGE_SIZE", 50)

# The REST API (api/): tokens only (no session, so no CSRF), JSON only, errors as RFC 9457
# problem details, each token throttled in the database (api.auth.TokenThrottle).
API_REQUESTS_PER_MINUTE = envint("API_REQUESTS_PER_MINUTE", 600)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.auth.TokenRights"],
    "DEFAULT_THROTTLE_CLASSES": ["api.auth.TokenThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mailadmin API",
    "DESCRIPTION": "Domains, mailboxes, aliases, DKIM keys, DNS policies and records, the apply status and the "
    "audit log of a mailadmin host, through the same actions as its pages. Send `Authorization: Bearer <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
