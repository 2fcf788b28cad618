"""Delete the ciphertext of expired share links (run it from cron, e.g. every minute)."""

from django.core.management.base import BaseCommand

from sharing.actions import purge_expired


class Command(BaseCommand):
    help = "Delete expired share links and their ciphertext."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{purge_expired()} expired share(s) deleted")
