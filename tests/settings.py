"""Test settings: the full stack on this machine's real services.

PostgreSQL and Redis are the machine's own; S3 is moto's standalone server and Vault is our
transit-compatible HTTP server, both started by session fixtures on the ports chosen here (one
pair per xdist worker, since each worker imports this module in its own process).
"""

import hashlib
import os
import socket
import tempfile
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
# One database name per checkout: two clones (or git worktrees) testing at once on one
# PostgreSQL would otherwise create and drop the same test_…_gw0 databases under each other.
_checkout = hashlib.sha256(str(Path(__file__).resolve().parent.parent).encode()).hexdigest()[:8]
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/openmates_images_{_checkout}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["DRAMATIQ_NAMESPACE"] = f"omi-test-{_worker}-{os.getpid()}"
os.environ["CHANNELS_PREFIX"] = f"omi-test-{_worker}-{os.getpid()}"
os.environ["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{_free_port()}"
os.environ["S3_BUCKET"] = "chatfiles"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["VAULT_ADDR"] = f"http://127.0.0.1:{_free_port()}"
os.environ["VAULT_TOKEN"] = "test-root-token"
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix=f"omi-test-{_worker}-")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ["TEST_PROMPT_HOOKS"] = "1"  # [[sleep:…]] / [[fail:…]] in prompts drive the pipeline tests
# Many tests upload more than a user's 30 images a minute; tests/generation/test_limits.py sets the limit.
os.environ.setdefault("UPLOAD_RATE_LIMIT_PER_MINUTE", "100000")
os.environ["GENERATION_RETRY_MIN_BACKOFF_MS"] = "50"
os.environ["GENERATION_RETRY_MAX_BACKOFF_MS"] = "200"

from openmates_images.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
