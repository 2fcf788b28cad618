"""``manage.py create_api_key <username>``: create the user if absent and print a new key.

The raw key is printed once, as the last line, so scripts can take ``| tail -n1``.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts.api_keys import do_create_api_key


class Command(BaseCommand):
    help = "Create an API key for a user (creating the user if needed); prints the raw key once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the key.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            self.stderr.write(f"Created user {username!r} (no password; set one with changepassword).")
        created_key = do_create_api_key(user, name=name)
        self.stderr.write(f"API key {created_key.api_key.prefix}… for {username!r}; it is shown only once:")
        self.stdout.write(created_key.raw_key)
