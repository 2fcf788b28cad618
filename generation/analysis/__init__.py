"""Image analysis: answers to a user's question about an image, and about the area they marked.

``actions`` creates the task (the shared task model and runner do the rest), ``region`` checks
and draws the marked shapes, ``offline`` answers from measurements, ``providers.gemini_text``
from a vision model, and ``runner`` is the pipeline stage between them.
"""
