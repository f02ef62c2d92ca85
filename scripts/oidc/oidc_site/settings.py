"""A real OpenID Connect provider (django-oidc-provider) for mailplane's `idp test` tests.

Test-only: fixed secret key, SQLite under $MAILPLANE_OIDC_DB, plain HTTP on 127.0.0.1.
"""

import os

SECRET_KEY = "mailplane-test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "oidc_site.urls"
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oidc_provider",
    "oidc_site",  # for the `seed` management command
]

# The authorize endpoint reads request.user, so sessions and auth are needed.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.contrib.auth.context_processors.auth"]},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("MAILPLANE_OIDC_DB", "/tmp/mailplane-oidc.sqlite3"),
    }
}

LOGIN_URL = "/login/"
# No SITE_URL: the provider builds its issuer and endpoints from the request's host and port.
# django-oidc-provider's own models rely on the implicit AutoField; nothing to fix on our side.
SILENCED_SYSTEM_CHECKS = ["models.W042"]
