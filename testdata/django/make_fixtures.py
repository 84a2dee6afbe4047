"""Builds one fixture database with a real django-oidc-provider release.

Run by make_fixtures.sh with PYTHONPATH holding the release's source, pyjwkest
and this folder; FIXTURE_DB, FIXTURE_MEDIA and FIXTURE_MANIFEST name the
outputs. Everything in the database is written by Django and by
django-oidc-provider's own code: its migrations, its creatersakey command and
its views, driven through Django's test client (authorize, consent, token,
refresh, client_credentials). Only site_profile (the site's own table, read by
its OIDC_USERINFO) is created here with SQL, as a site's own app would.

The manifest (JSON) records what the tests need and cannot read back from the
database: the plain passwords, the client secrets and the tokens the relying
parties received, among them an ID token signed by the release.
"""
import base64
import hashlib
import json
import os
import random
import sys
import uuid
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import django
from django.conf import settings

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client as Browser  # noqa: E402
from django.test.utils import override_settings, setup_test_environment  # noqa: E402

from oidc_provider import models as m  # noqa: E402

setup_test_environment()

# SHIM, for releases before 0.7 only: their views.py imports
# django.contrib.auth.views.logout, a function Django removed in 2.1 (Debian
# 12 has Django 3.2). Only their end-session view calls it, and these fixtures
# never call that view; the shim lets the module import and fails loudly if
# it is ever called. Models, migrations, authorize and token run unchanged.
import django.contrib.auth.views as auth_views  # noqa: E402

if not hasattr(auth_views, "logout"):
    def _removed_logout(*args, **kwargs):
        raise RuntimeError("fixture shim: django.contrib.auth.views.logout was removed in Django 2.1")
    auth_views.logout = _removed_logout

MULTI = hasattr(m, "ResponseType")  # 0.7+: the ResponseType table
CLIENT_CREDENTIALS = hasattr(m.Token, "user") and m.Token._meta.get_field("user").null
LONG = 60 * 60 * 24 * 365 * 50  # 50 years: artefacts that stay live for the tests
manifest = {"release": os.environ["FIXTURE_RELEASE"], "issuer": settings.SITE_URL + "/openid",
            "users": {}, "clients": {}, "tokens": {}}

call_command("migrate", verbosity=0)

with connection.cursor() as cur:
    cur.execute("CREATE TABLE site_profile (user_id integer PRIMARY KEY REFERENCES auth_user(id),"
                " phone varchar(40) NOT NULL, locale varchar(10) NOT NULL)")

# Users: one per hasher, each password hashed by Django's make_password
# through User.set_password with that hasher.
from django.contrib.auth.hashers import make_password  # noqa: E402

USERS = [
    ("alice", "pbkdf2_sha256", dict(first_name="Alice", last_name="Liddell", email="alice@example.com", is_staff=True, is_superuser=True)),
    ("bob", "pbkdf2_sha1", dict(first_name="Bob", last_name="Builder", email="bob@example.com")),
    ("carol", "argon2", dict(first_name="Carol", last_name="Danvers", email="carol@example.com")),
    ("dave", "bcrypt_sha256", dict(first_name="Dave", last_name="Bowman", email="dave@example.com")),
    ("erin", "scrypt", dict(first_name="Erin", last_name="Brockovich", email="erin@example.com")),
    ("frank", "unsalted_md5", dict(first_name="Frank", last_name="Poole", email="frank@example.com")),
    ("grace", None, dict(first_name="Grace", last_name="Hopper", email="grace@example.com")),
    ("heidi", "pbkdf2_sha256", dict(first_name="Heidi", last_name="Klum", email="heidi@example.com", is_active=False)),
]
users = {}
for username, hasher, extra in USERS:
    u = User(username=username, **extra)
    password = None
    if hasher is None:
        u.set_unusable_password()
    else:
        password = "%s-Passw0rd!" % username
        u.password = make_password(password, hasher=hasher)
    u.save()
    users[username] = u
    manifest["users"][username] = {"id": u.id, "password": password, "hasher": hasher,
                                   "encoded": u.password, "is_active": u.is_active}
with connection.cursor() as cur:
    cur.execute("INSERT INTO site_profile VALUES (%s, %s, %s)", [users["alice"].id, "+1 555 0100", "en-GB"])
    cur.execute("INSERT INTO site_profile VALUES (%s, %s, %s)", [users["bob"].id, "+1 555 0101", "fr-FR"])

# Keys: the release's own management command, twice (an old and a new key).
call_command("creatersakey")
call_command("creatersakey")
manifest["kids"] = [k.kid for k in m.RSAKey.objects.order_by("id")]

# A one-pixel PNG as a client logo, stored by Django's FileField.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z/C/HgAGgwJ/lK3Q6wAAAABJRU5ErkJggg==")


def client(key, name, client_type, response_types, redirect_uris, secret=True, **fields):
    # Ids and secrets as django-oidc-provider's admin form makes them: a
    # zero-padded random number, and sha224(uuid4().hex).hexdigest().
    c = m.Client(name=name, client_type=client_type, client_id=str(random.randint(1, 999999)).zfill(6),
                 client_secret=hashlib.sha224(uuid.uuid4().hex.encode()).hexdigest() if secret else "", **fields)
    c.redirect_uris = redirect_uris
    if not MULTI:
        c.response_type = response_types[0]
    logo = fields.pop("logo", None)
    c.save()
    if MULTI:
        for rt in response_types:
            c.response_types.add(m.ResponseType.objects.get(value=rt))
    manifest["clients"][key] = {"client_id": c.client_id, "client_secret": c.client_secret, "response_types": response_types}
    return c


web = client("web", "Confidential Web", "confidential", ["code"],
             ["https://rp.example.com/callback", "https://rp.example.com/other?x=1"],
             jwt_alg="RS256", require_consent=True, reuse_consent=True,
             website_url="https://rp.example.com", terms_url="https://rp.example.com/terms",
             contact_email="ops@rp.example.com")
web.post_logout_redirect_uris = ["https://rp.example.com/bye"]
web.logo.save("logo.png", ContentFile(PNG))
web.save()
hybrid = client("hybrid", "Hybrid HS256", "confidential", ["code id_token", "code token", "code id_token token", "code"],
                ["https://hybrid.example.com/cb"], jwt_alg="HS256", require_consent=False, reuse_consent=False)
spa = client("spa", "Public SPA", "public", ["id_token token", "id_token"], ["http://localhost:3000/cb"],
             secret=False, jwt_alg="RS256", require_consent=True, reuse_consent=True)
native = client("native", "Native App", "public", ["code"], ["com.example.app:/oauth2redirect", "http://127.0.0.1/cb"],
                secret=False, jwt_alg="RS256")
api = client("api", "Introspecting API", "confidential", ["code"], ["https://api.example.com/cb"])
api.scope = ["token_introspection", web.client_id, "read_books"]
api.save()
legacy = client("legacy", "Legacy plain-http", "confidential", ["code"], ["http://legacy.example.com/cb"])


class Hidden(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden" and a.get("name") != "csrfmiddlewaretoken":
            self.fields[a["name"]] = a.get("value", "")


def params_of(location):
    u = urlsplit(location)
    q = parse_qs(u.fragment or u.query)
    return {k: v[0] for k, v in q.items()}


def authorize(browser, params, allow=True):
    """GET /openid/authorize; on a consent page, POST its hidden inputs back."""
    r = browser.get("/openid/authorize", params)
    if r.status_code == 200:
        p = Hidden()
        p.feed(r.content.decode())
        assert p.fields, r.content[:500]
        form = dict(p.fields)
        if allow:
            form["allow"] = "Authorize"
        r = browser.post("/openid/authorize", form)
    assert r.status_code == 302, (r.status_code, r.content[:500])
    out = params_of(r["Location"])
    assert "error" not in out, out
    return out


def token(data):
    r = Browser().post("/openid/token", data)
    assert r.status_code == 200, r.content
    return json.loads(r.content.decode())


def login(username):
    b = Browser()
    b.force_login(users[username])  # no password check: Django would upgrade old hashes
    return b


def pkce():
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


live = override_settings(OIDC_TOKEN_EXPIRE=LONG, OIDC_IDTOKEN_EXPIRE=LONG, OIDC_CODE_EXPIRE=LONG)

with live:
    # alice, code flow, consent page, remembered consent; the ID token an RP keeps.
    b = login("alice")
    got = authorize(b, {"client_id": web.client_id, "redirect_uri": web.redirect_uris[0], "response_type": "code",
                        "scope": "openid profile email phone", "state": "s1", "nonce": "n-alice"})
    t = token({"grant_type": "authorization_code", "code": got["code"], "redirect_uri": web.redirect_uris[0],
               "client_id": web.client_id, "client_secret": web.client_secret})
    manifest["tokens"]["alice_web"] = t
    # A second grant of alice's, then its refresh token redeemed once at the
    # release (which deletes the old token row): the new pair stays live.
    got = authorize(b, {"client_id": web.client_id, "redirect_uri": web.redirect_uris[0], "response_type": "code",
                        "scope": "openid email", "state": "s2", "nonce": "n2"})
    t2 = token({"grant_type": "authorization_code", "code": got["code"], "redirect_uri": web.redirect_uris[0],
                "client_id": web.client_id, "client_secret": web.client_secret})
    manifest["tokens"]["alice_web_before_refresh"] = t2
    manifest["tokens"]["alice_web_refreshed"] = token({"grant_type": "refresh_token", "refresh_token": t2["refresh_token"],
                                                       "client_id": web.client_id, "client_secret": web.client_secret})

    # bob, hybrid with HS256 ID tokens and no consent page.
    b = login("bob")
    got = authorize(b, {"client_id": hybrid.client_id, "redirect_uri": hybrid.redirect_uris[0],
                        "response_type": "code id_token", "scope": "openid profile", "state": "s3", "nonce": "n-bob"})
    manifest["tokens"]["bob_hybrid_front"] = got
    manifest["tokens"]["bob_hybrid"] = token({"grant_type": "authorization_code", "code": got["code"],
                                              "redirect_uri": hybrid.redirect_uris[0],
                                              "client_id": hybrid.client_id, "client_secret": hybrid.client_secret})

    # alice, a code of a client with one redirect URI, left unredeemed.
    b = login("alice")
    got = authorize(b, {"client_id": hybrid.client_id, "redirect_uri": hybrid.redirect_uris[0],
                        "response_type": "code id_token", "scope": "openid email", "state": "s8", "nonce": "n-alice-code"})
    manifest["tokens"]["alice_hybrid_code"] = {"code": got["code"], "redirect_uri": hybrid.redirect_uris[0]}

    # carol, implicit with the public SPA (consent remembered).
    b = login("carol")
    manifest["tokens"]["carol_spa"] = authorize(b, {"client_id": spa.client_id, "redirect_uri": spa.redirect_uris[0],
                                                    "response_type": "id_token token", "scope": "openid email",
                                                    "state": "s4", "nonce": "n-carol"})

    # dave, a native app with PKCE: the code is left unredeemed (a live code).
    b = login("dave")
    verifier, challenge = pkce()
    got = authorize(b, {"client_id": native.client_id, "redirect_uri": native.redirect_uris[0], "response_type": "code",
                        "scope": "openid profile", "state": "s5", "nonce": "n-dave",
                        "code_challenge": challenge, "code_challenge_method": "S256"})
    manifest["tokens"]["dave_native_code"] = {"code": got["code"], "code_verifier": verifier,
                                              "redirect_uri": native.redirect_uris[0]}

    # client credentials of the API client (token without a user), 0.6+.
    if CLIENT_CREDENTIALS:
        manifest["tokens"]["api_client_credentials"] = token({"grant_type": "client_credentials", "scope": "read_books",
                                                              "client_id": api.client_id, "client_secret": api.client_secret})

# erin with the release's default lifetimes: by the time the tests run the
# access token and the code have expired; the refresh token has not (the
# release never expires refresh tokens).
b = login("erin")
got = authorize(b, {"client_id": web.client_id, "redirect_uri": web.redirect_uris[0], "response_type": "code",
                    "scope": "openid email", "state": "s6", "nonce": "n-erin"})
manifest["tokens"]["erin_web"] = token({"grant_type": "authorization_code", "code": got["code"],
                                        "redirect_uri": web.redirect_uris[0],
                                        "client_id": web.client_id, "client_secret": web.client_secret})
got = authorize(b, {"client_id": web.client_id, "redirect_uri": web.redirect_uris[0], "response_type": "code",
                    "scope": "openid", "state": "s7", "nonce": "n-erin2"})
manifest["tokens"]["erin_expired_code"] = {"code": got["code"]}

manifest["counts"] = {
    "users": User.objects.count(), "clients": m.Client.objects.count(), "keys": m.RSAKey.objects.count(),
    "consents": m.UserConsent.objects.count(), "tokens": m.Token.objects.count(), "codes": m.Code.objects.count(),
}
manifest["migrations"] = [name for (name,) in connection.cursor().execute(
    "SELECT name FROM django_migrations WHERE app = 'oidc_provider' ORDER BY id").fetchall()]
with open(os.environ["FIXTURE_MANIFEST"], "w") as f:
    json.dump(manifest, f, indent=1, sort_keys=True)
    f.write("\n")
print("%s: %s" % (manifest["release"], manifest["counts"]), file=sys.stderr)
