"""Entry module for ``dramatiq`` worker processes: set Django up, which declares the actors."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmates_images.settings")
django.setup()

from generation import actors  # noqa: E402, F401
from generation.availability import start_availability_monitor  # noqa: E402
from generation.maintenance import start_reaper_thread  # noqa: E402

start_reaper_thread()
start_availability_monitor()  # models gone at their provider are known before a task pays
