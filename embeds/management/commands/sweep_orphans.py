"""``manage.py sweep_orphans``: delete stored objects that no embed accounts for (run daily)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand

from embeds.maintenance import sweep_orphaned_objects


class Command(BaseCommand):
    help = "Delete objects in the chatfiles store that belong to no embed (older than --older-than-minutes)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than-minutes", type=float, default=60.0)
        parser.add_argument("--dry-run", action="store_true", help="List what would be deleted.")

    def handle(self, *args, older_than_minutes: float, dry_run: bool, **options) -> None:
        orphans = sweep_orphaned_objects(older_than=timedelta(minutes=older_than_minutes), dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {len(orphans)} orphaned object(s).")
