from django.urls import path

from . import api

urlpatterns = [
    path("account/master_key", api.MasterKeyView.as_view(), name="master-key"),
]
