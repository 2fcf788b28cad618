"""Entry module for ``dramatiq`` worker processes: set Django up, which declares the actors."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmates_images.settings")
django.setup()

from generation import actors  # noqa: E402, F401
from generation.maintenance import start_reaper_thread  # noqa: E402

start_reaper_thread()
