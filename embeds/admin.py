"""Staff views of embeds: ids, owners, states and sizes — never content.

Nothing decrypted is shown, and the list says nothing that tells an upload from a generated
image (both are type "image" with the same three files): staff run the service, they do not
browse what users made. Deleting goes through the action that removes the stored objects.
"""

from __future__ import annotations

from django.contrib import admin

from .actions import do_delete_embed
from .models import Embed


@admin.register(Embed)
class EmbedAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "type", "status", "encryption_mode", "stored_bytes", "created_at")
    list_filter = ("type", "status", "encryption_mode", "created_at")
    search_fields = ("id", "owner__username")
    fields = ("id", "owner", "type", "status", "encryption_mode", "stored_bytes", "created_at", "updated_at")
    readonly_fields = fields
    actions = ["delete_with_objects"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # the bulk delete would leave objects in storage
        return actions

    def delete_model(self, request, obj: Embed) -> None:
        do_delete_embed(obj)

    @admin.action(description="Delete selected embeds and their stored files", permissions=["delete"])
    def delete_with_objects(self, request, queryset) -> None:
        count = 0
        for embed in queryset:
            do_delete_embed(embed)
            count += 1
        self.message_user(request, f"Deleted {count} embed(s) and their files.")
