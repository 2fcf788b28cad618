"""``manage.py run_workers``: Dramatiq worker processes for the full stack.

Runs the Dramatiq CLI on ``openmates_images.workers`` (which sets Django up and declares the
actors), so workers scale out like any Dramatiq deployment: N processes × M threads per host.
"""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand, CommandError

from generation.conf import conf


class Command(BaseCommand):
    help = "Run Dramatiq worker processes for the app_images queue (needs REDIS_URL)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--threads", type=int, default=conf().WORKER_THREADS)

    def handle(self, *args, processes: int, threads: int, **options) -> None:
        from django.conf import settings

        if not settings.REDIS_URL:
            raise CommandError(
                "REDIS_URL is not set: in the embedded default the web process runs the workers."
            )
        argv = [
            sys.executable,
            "-m",
            "dramatiq",
            "openmates_images.workers",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            "--queues",
            conf().QUEUE,
        ]
        os.execv(sys.executable, argv)  # noqa: S606
