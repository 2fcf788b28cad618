"""Health endpoints: /healthz always answers; /readyz checks each dependency for real."""

from __future__ import annotations

import pytest


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_every_dependency(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "storage": "ok", "keyring": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_when_vault_fails(client, vault_server):
    vault_server.fail_next(1, status=503)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["checks"]["keyring"] == "unavailable"
