"""The fixture site's OIDC_USERINFO: standard claims from auth_user and the
site's own profile table (site_profile), as a real site would do."""
from django.db import connection


def userinfo(claims, user):
    claims["name"] = "{0} {1}".format(user.first_name, user.last_name).strip()
    claims["given_name"] = user.first_name
    claims["family_name"] = user.last_name
    claims["email"] = user.email
    claims["email_verified"] = True
    with connection.cursor() as cur:
        cur.execute("SELECT phone, locale FROM site_profile WHERE user_id = %s", [user.id])
        row = cur.fetchone()
    if row:
        claims["phone_number"], claims["locale"] = row
    return claims
