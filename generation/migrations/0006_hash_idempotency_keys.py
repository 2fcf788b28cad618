"""Idempotency-Keys are stored as a keyed hash: hash the keys stored in plaintext before."""

from django.db import migrations
from django.utils.crypto import salted_hmac

# The salt of generation.actions.idempotency_digest (copied: a migration must not change when
# the code does).
SALT = "openmates_images.generation.idempotency_key"


def hash_keys(apps, schema_editor):
    Task = apps.get_model("generation", "Task")
    for task in Task.objects.filter(idempotency_key__isnull=False).only("pk", "idempotency_key").iterator():
        digest = salted_hmac(SALT, task.idempotency_key, algorithm="sha256").hexdigest()
        Task.objects.filter(pk=task.pk).update(idempotency_key=digest)


def forget_keys(apps, schema_editor):
    """A hash cannot be turned back into its key: going back forgets the keys instead."""
    apps.get_model("generation", "Task").objects.update(idempotency_key=None)


class Migration(migrations.Migration):
    dependencies = [("generation", "0005_usage_event")]

    operations = [migrations.RunPython(hash_keys, forget_keys)]
