"""The bottom layer: what every app shares and nothing of ours is imported by.

Errors and their JSON shape (``errors``), the kinds of adapter failure (``faults``), strict
input (``api``, ``json_input``), OpenAPI helpers (``schema``), cross-process cache epochs
(``epochs``) and the per-user realtime channel (``realtime``). Modules here import Django,
DRF and Channels only; ``make test`` enforces that with import-linter.
"""
