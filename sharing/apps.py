from django.apps import AppConfig


class SharingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sharing"
    verbose_name = "Share links"

    def ready(self) -> None:
        from embeds.signals import collect_object_names, embed_deleting

        from . import maintenance

        embed_deleting.connect(maintenance.end_shares_of, dispatch_uid="sharing.end_shares_of")
        collect_object_names.connect(
            maintenance.kept_share_objects, dispatch_uid="sharing.kept_share_objects"
        )
