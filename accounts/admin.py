"""Staff views of API keys: the raw key is shown once, at creation; revoking is an action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from .api_keys import do_create_api_key, do_revoke_api_key
from .deletion import do_delete_account
from .models import ApiKey, UserPreferences


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at", "revoked_at")
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        # A key belongs to one user for its whole life: it is revoked, never handed over.
        return (*self.readonly_fields, "user") if obj is not None else self.readonly_fields

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
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            do_revoke_api_key(key)  # also closes the sockets each key opened
        self.message_user(request, f"Revoked {len(keys)} key(s).")


@admin.register(UserPreferences)
class UserPreferencesAdmin(admin.ModelAdmin):
    list_display = ("user", "embed_prompt_in_metadata")
    fields = ("user", "embed_prompt_in_metadata")


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class AccountAdmin(UserAdmin):
    """Deleting a user here deletes their stored files and destroys their keyring key too."""

    actions = ["delete_accounts"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would leave files and keys behind
        return actions

    def delete_model(self, request, obj) -> None:
        do_delete_account(obj)

    @admin.action(description="Delete selected accounts, their files and their keys", permissions=["delete"])
    def delete_accounts(self, request, queryset) -> None:
        count = 0
        for user in queryset:
            do_delete_account(user)
            count += 1
        self.message_user(request, f"Deleted {count} account(s) with their files and keys.")
