"""Staff views of API keys: the raw key is shown once, at creation; revoking is an action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from .api_keys import do_create_api_key
from .models import ApiKey, UserPreferences


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at", "revoked_at")
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = do_create_api_key(obj.user, name=obj.name)
        obj.pk = created.api_key.pk
        obj.prefix = created.api_key.prefix
        obj.key_hash = created.api_key.key_hash
        self.message_user(
            request,
            f"API key for {obj.user}: {created.raw_key} — copy it now, it will not be shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} key(s).")


@admin.register(UserPreferences)
class UserPreferencesAdmin(admin.ModelAdmin):
    list_display = ("user", "embed_prompt_in_metadata")
    fields = ("user", "embed_prompt_in_metadata")
