"""``manage.py check_providers``: ask each configured provider whether its models exist, now.

Prints one line per model, image and analysis models alike (and one for reverse search), with
what works and why not: the same facts ``GET /v1/apps/images/models``,
``GET /v1/apps/images/analyze/models`` and ``/readyz`` report. Exits 1 when a configured model
is unavailable, so it can gate a deploy.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from generation.availability import check_models, edit_unavailable_reason, reverse_search_entry
from generation.registry import provider_for


class Command(BaseCommand):
    help = "Ask each configured provider whether its image and analysis models exist; report what works."

    def handle(self, *args, **options) -> None:
        broken = []
        for spec, status, probe_error in check_models():
            configured = provider_for(spec).is_available()
            if probe_error and status.available:
                self.stdout.write(
                    f"UNCHECKED    {spec.id}: the provider did not answer the check ({probe_error})"
                )
                broken.append(spec.id)
            elif status.available:
                line = f"ok           {spec.id}"
                if spec.supports_edit and (reason := edit_unavailable_reason(spec.provider)):
                    line += f" (edits unavailable: {reason})"
                    broken.append(spec.id)
                self.stdout.write(line)
            elif not configured:
                self.stdout.write(f"unconfigured {spec.id}: {status.reason}")
            else:
                self.stdout.write(f"UNAVAILABLE  {spec.id}: {status.reason}")
                broken.append(spec.id)
        search = reverse_search_entry()
        if search["available"]:
            self.stdout.write(f"ok           reverse search ({search['engine']})")
        else:
            self.stdout.write(
                f"unavailable  reverse search ({search['engine']}): {search['unavailable_reason']}"
            )
        if broken:
            raise CommandError(f"Unavailable though configured: {', '.join(broken)}")
