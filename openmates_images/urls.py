"""URL map: the REST surface under /v1/, the web UI at /, admin at /admin/."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView

from core.errors import bad_request, not_found
from generation.views import shared_image

from . import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("shared/<str:token>", shared_image, name="shared-image"),
    path("v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("v1/docs", SpectacularSwaggerSplitView.as_view(url_name="openapi"), name="api-docs"),
    path("v1/docs/", RedirectView.as_view(pattern_name="api-docs", permanent=True)),
    path("v1/", include("embeds.api.urls")),
    path("v1/", include("generation.api.urls")),
    path("v1/", include("chats.api_urls")),
    path("v1/", include("sharing.api_urls")),
    path("v1/", include("accounts.api_urls")),
    path("", include("sharing.urls")),
    path("", include("accounts.urls")),
    path("", include("chats.urls")),
]

handler400 = bad_request
handler404 = not_found
