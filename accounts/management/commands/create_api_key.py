"""``manage.py create_api_key <username>``: create the user if absent and print a new key.

The raw key is printed once, as the last line, so scripts can take ``| tail -n1``.

The key must land in the database the server uses. A server started with another ``DATA_DIR``
(``DATA_DIR=/srv/omi make run``) keeps its SQLite database there; a command run without it would
write to ``./var`` instead (or fail on missing tables), and the key would answer 401. So, when
``DATA_DIR`` is not set here, the command looks for this project's running server among the
user's own processes and uses its ``DATA_DIR``; and whatever it uses, it refuses with a clear
sentence (and no key on stdout) when that database has no tables yet.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.api_keys import do_create_api_key

_REEXEC_MARK = "OMI_CREATE_API_KEY_REEXEC"
_SERVER_MARKERS = ("openmates_images.asgi", "openmates_images.wsgi")


def _process_env(pid: str) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    # Only what this command needs is kept: DATA_DIR, and whether DATABASE_URL is set (never its
    # value, which may hold a password).
    found = {}
    if pairs.get(b"DATA_DIR"):
        found["DATA_DIR"] = pairs[b"DATA_DIR"].decode(errors="replace")
    if pairs.get(b"DATABASE_URL"):
        found["DATABASE_URL"] = "set"
    return found


def running_servers(base_dir: Path) -> list[tuple[int, dict[str, str]]]:
    """This project's server processes of the current user: (pid, their DATA_DIR/DATABASE_URL)."""
    found = []
    uid = os.getuid()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if entry.stat().st_uid != uid or int(entry.name) == os.getpid():
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = Path(os.readlink(entry / "cwd")).resolve()
        except (OSError, ValueError):
            continue
        if cwd == base_dir and any(marker in command for marker in _SERVER_MARKERS):
            found.append((int(entry.name), _process_env(entry.name)))
    return found


def _adopt_running_server(stderr) -> None:
    """Re-run this command with the running server's DATA_DIR when ours was not chosen."""
    if os.environ.get("DATA_DIR") or os.environ.get("DATABASE_URL") or os.environ.get(_REEXEC_MARK):
        return
    if not Path("/proc/self").exists():
        return
    base_dir = Path(settings.BASE_DIR).resolve()
    servers = running_servers(base_dir)
    if any(env.get("DATABASE_URL") for _, env in servers):
        pid = next(pid for pid, env in servers if env.get("DATABASE_URL"))
        raise CommandError(
            f"The server running here (process {pid}) uses a DATABASE_URL, but this command has "
            "none: run it with the same DATABASE_URL as the server, or the key will not work there."
        )
    data_dirs = {env["DATA_DIR"] for _, env in servers if env.get("DATA_DIR")}
    if len(data_dirs) > 1:
        raise CommandError(
            "Several servers of this project are running with different DATA_DIRs "
            f"({', '.join(sorted(data_dirs))}): run this command with DATA_DIR set to the one you mean."
        )
    if not data_dirs:
        return
    data_dir = Path(data_dirs.pop()).resolve()
    if data_dir == Path(settings.DATA_DIR).resolve():
        return
    stderr.write(f"Using the running server's DATA_DIR={data_dir}.")
    env = {**os.environ, "DATA_DIR": str(data_dir), _REEXEC_MARK: "1"}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)  # noqa: S606 - this same command, again


def _check_database() -> None:
    if get_user_model()._meta.db_table in connection.introspection.table_names():
        return
    where = settings.DATABASES["default"]
    place = (
        f"the SQLite database {where['NAME']} (DATA_DIR={settings.DATA_DIR})"
        if where["ENGINE"].endswith("sqlite3")
        else f"the database {where.get('NAME')!r} on {where.get('HOST') or 'localhost'}"
    )
    raise CommandError(
        f"There are no tables in {place}: this is not where your server keeps its data. Run this "
        "command with the same DATA_DIR (or DATABASE_URL) as the server, e.g. "
        "DATA_DIR=/path/to/data python manage.py create_api_key NAME, or run `manage.py migrate` "
        "first for a new installation."
    )


class Command(BaseCommand):
    help = "Create an API key for a user (creating the user if needed); prints the raw key once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the key.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        _adopt_running_server(self.stderr)
        _check_database()
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            self.stderr.write(f"Created user {username!r} (no password; set one with changepassword).")
        created_key = do_create_api_key(user, name=name)
        self.stderr.write(f"API key {created_key.api_key.prefix}… for {username!r}; it is shown only once:")
        self.stdout.write(created_key.raw_key)
