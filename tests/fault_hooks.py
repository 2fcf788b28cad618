"""Stage hooks the fault tests install (``GENERATION_STAGE_HOOK`` / ``GENERATION["STAGE_HOOK"]``).

The runner calls the installed hook with the name of each stage before running it
(``generation.pipeline.runner.stage_hook``); production installs none.
"""

from __future__ import annotations

import logging
import os
import signal

logger = logging.getLogger(__name__)

# A prompt's ``[[crash:<point>]]`` kills the worker at that point of its first attempt: just
# before the named stage, after half of that stage's work when a partial is named.
CRASH_POINTS = {
    "provider": ("staging", None),  # paid for, not yet kept: the one call repeated
    "staged": ("labels", None),
    "encoded": ("storing", None),
    "uploading": ("storing", "original"),  # one rendition stored, the others not
    "stored": ("complete", None),
    "finished": ("cleanup", None),  # completed; its working objects not yet deleted
}


def crash_at_marked_stage(stage: str, run) -> None:
    """SIGKILL this worker process where the task's prompt asks, on its first attempt only."""
    if run.task.attempts != 1:
        return
    prompt = getattr(run.content, "prompt", None) or ""  # search and analysis contents have none
    for point, (before, partial) in CRASH_POINTS.items():
        if before == stage and f"[[crash:{point}]]" in prompt:
            if partial is not None:
                run.opened.store_file(partial, run.renditions[partial].data)
            logger.warning("generation.task.crash_injected task=%s at=%s", run.task.id, point)
            os.kill(os.getpid(), signal.SIGKILL)
