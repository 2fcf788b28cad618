"""Finds writes of a task's state (``status``, ``cancel_requested``) in Python source, by its AST.

Used by test_lifecycle.py to hold the rule that only ``generation/lifecycle.py`` writes them. A
write is any of: ``<task>.status = …`` (the target's name says task, or the value is a
``Task.Status``), ``<x>.cancel_requested = …``, ``setattr(<x>, "status"|"cancel_requested", …)``,
a ``status=``/``cancel_requested=`` keyword to ``update``/``create``/``get_or_create``/
``update_or_create`` on a query that starts from ``Task`` or a ``tasks`` relation (or to
``Task(...)``), ``bulk_update``/``save(update_fields=…)`` naming them on a task, and
``update(**{...})`` / ``save()`` of a task whose status was assigned in the same function.
"""

from __future__ import annotations

import ast
from pathlib import Path

STATE_FIELDS = {"status", "cancel_requested"}
WRITE_METHODS = {"update", "create", "get_or_create", "update_or_create"}
TASK_RELATIONS = {"tasks", "image_tasks"}


def _names(node: ast.AST) -> set[str]:
    """Every Name id and attribute name in an expression."""
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
    return found


def _is_task_query(node: ast.AST) -> bool:
    names = _names(node)
    return "Task" in names or bool(names & TASK_RELATIONS)


def _last_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call | ast.Subscript):
        return _last_name(node.func if isinstance(node, ast.Call) else node.value)
    return ""


def _looks_like_task(node: ast.AST) -> bool:
    """``task``, ``locked``, ``self.task``, ``tasks[0]``… but not ``task.embed``."""
    name = _last_name(node)
    return "task" in name.lower() or name == "locked"


def _strings(node: ast.AST) -> set[str]:
    return {c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)}


def _self_in_task_model(tree: ast.AST) -> set[int]:
    """The ``self`` names inside ``class Task``'s methods: they are tasks."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Task":
            found.update(id(c) for c in ast.walk(node) if isinstance(c, ast.Name) and c.id == "self")
    return found


def _state_writes(tree: ast.AST) -> list[tuple[int, str]]:
    writes: list[tuple[int, str]] = []
    task_selves = _self_in_task_model(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for part in ast.walk(target):
                    if not isinstance(part, ast.Attribute) or part.attr not in STATE_FIELDS:
                        continue
                    value_is_task_status = node.value is not None and "Task" in _names(node.value)
                    is_task = _looks_like_task(part.value) or id(part.value) in task_selves
                    if part.attr == "cancel_requested" or is_task or value_is_task_status:
                        writes.append((node.lineno, f"assigns .{part.attr}"))
        elif isinstance(node, ast.Call):
            func = node.func
            keywords = {k.arg for k in node.keywords if k.arg}
            if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
                if _strings(node.args[1]) & STATE_FIELDS:
                    writes.append((node.lineno, "setattr of a state field"))
            elif isinstance(func, ast.Name) and func.id == "Task" and keywords & STATE_FIELDS:
                writes.append((node.lineno, "Task(...) with a state field"))
            elif isinstance(func, ast.Attribute):
                if func.attr in WRITE_METHODS and _is_task_query(func.value):
                    splatted = [k.value for k in node.keywords if k.arg is None]
                    if keywords & STATE_FIELDS or any(_strings(v) & STATE_FIELDS for v in splatted):
                        writes.append((node.lineno, f"{func.attr}() of a state field"))
                elif (
                    func.attr in {"save", "bulk_update"}
                    and (_is_task_query(func.value) or _looks_like_task(func.value))
                    and any(
                        _strings(arg) & STATE_FIELDS
                        for arg in [*node.args, *(k.value for k in node.keywords)]
                    )
                ):
                    writes.append((node.lineno, f"{func.attr}() naming a state field"))
    return writes


def state_writes_in_source(source: str) -> list[tuple[int, str]]:
    """(line, what) for every write of a task's state in ``source``."""
    return _state_writes(ast.parse(source))


def state_writes_in_tree(root: Path, packages: tuple[str, ...], *, allowed: set[str]) -> list[str]:
    """``path:line: what`` for every write outside the ``allowed`` files (paths from ``root``)."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if "/migrations/" in relative or relative in allowed:
                continue
            for line, what in state_writes_in_source(path.read_text()):
                found.append(f"{relative}:{line}: {what}")
    return found
