from django.contrib import admin

from .models import Share


@admin.register(Share)
class ShareAdmin(admin.ModelAdmin):
    """Staff see that a link exists and when it ends, never anything that opens it."""

    list_display = ("id", "owner", "embed", "created_at", "expires_at", "view_count", "size_bytes")
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request) -> bool:
        return False
