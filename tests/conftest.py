"""Fixtures for the real services the suite runs against (see tests/settings.py)."""

from __future__ import annotations

import os
from urllib.parse import urlparse

import pytest


@pytest.fixture(scope="session")
def vault_server():
    """Our Vault-transit-compatible HTTP server on the port tests/settings.py chose."""
    from tests.fakes.vault_server import VaultTransitServer

    url = urlparse(os.environ["VAULT_ADDR"])
    server = VaultTransitServer(host=url.hostname, port=url.port, token=os.environ["VAULT_TOKEN"])
    server.start()
    yield server
    server.stop()
