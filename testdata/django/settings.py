"""Django settings of the throwaway site that make_fixtures.py runs.

It is a plain django-oidc-provider site: the provider mounted at /openid/,
SITE_URL http://localhost:8000 (so the issuer is http://localhost:8000/openid),
and every password hasher the importer must handle.
"""
import os

BASE_DIR = os.path.dirname(os.path.abspath(__file__))

SECRET_KEY = "fixture-site-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["FIXTURE_DB"],
    }
}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oidc_provider",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

ROOT_URLCONF = "fixture_urls"
LOGIN_URL = "/accounts/login/"
MEDIA_ROOT = os.environ["FIXTURE_MEDIA"]
MEDIA_URL = "/media/"

# Django's own hashers, Django's default first. ScryptPasswordHasher only
# exists from Django 4.0; Debian 12 ships Django 3.2, so fixture_hashers
# carries a hasher producing Django 4's documented scrypt format.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "fixture_hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.UnsaltedMD5PasswordHasher",
]

SITE_URL = "http://localhost:8000"
OIDC_USERINFO = "fixture_userinfo.userinfo"

# Remembered consents last 50 years (in days, the setting's unit), so that the
# consents written by the release stay live for as long as the fixtures are used.
OIDC_SKIP_CONSENT_EXPIRE = 365 * 50
