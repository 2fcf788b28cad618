from django.urls import path

from . import gallery, views

urlpatterns = [
    path("embeds/upload", views.EmbedUploadView.as_view(), name="embed-upload"),
    path("embed_keys", views.EmbedKeysView.as_view(), name="embed-keys"),
    # Before embeds/<embed_id>, which would take these names for ids.
    path("embeds/bulk-delete", gallery.BulkDeleteView.as_view(), name="embeds-bulk-delete"),
    path("embeds/download.zip", gallery.DownloadZipView.as_view(), name="embeds-download-zip"),
    path("embeds/<str:embed_id>", views.EmbedView.as_view(), name="embed"),
    path("embeds/<str:embed_id>/file", views.EmbedFileView.as_view(), name="embed-file"),
    path("embeds/<str:embed_id>/content", views.EmbedContentView.as_view(), name="embed-content"),
    path("embeds/<str:embed_id>/versions", views.EmbedVersionsView.as_view(), name="embed-versions"),
    path("embeds/<str:embed_id>/crop", views.EmbedCropView.as_view(), name="embed-crop"),
    path("embeds/<str:embed_id>/provenance", views.EmbedProvenanceView.as_view(), name="embed-provenance"),
]
