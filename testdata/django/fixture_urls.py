"""URLs of the fixture site: django-oidc-provider at /openid/ as its docs say."""
try:
    from django.urls import include, re_path
except ImportError:  # pragma: no cover
    from django.conf.urls import include, url as re_path

urlpatterns = [
    re_path(r"^openid/", include("oidc_provider.urls", namespace="oidc_provider")),
]
