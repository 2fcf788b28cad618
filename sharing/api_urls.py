from django.urls import path

from . import api

urlpatterns = [
    path("shares", api.ShareListView.as_view(), name="shares"),
    path("shares/copy", api.ShareCopyView.as_view(), name="share-copy"),
    path("shares/<str:share_id>", api.ShareDetailView.as_view(), name="share"),
]
