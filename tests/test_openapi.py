"""The OpenAPI schema is a contract: schemathesis drives the live app from it.

Every operation gets generated requests (valid and invalid) with a real API key; no response
may be a 5xx, and every response must match the documented status codes, content types and
schemas.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def auth_header(alice):
    from accounts.api_keys import do_create_api_key

    return {"Authorization": f"Bearer {do_create_api_key(alice).raw_key}"}


def test_every_operation_conforms(live_server, auth_header):
    """Schemathesis's generated cases for every operation, through its Python API (its pytest
    plugin does not support this pytest yet)."""
    schema = schemathesis.openapi.from_url(f"{live_server.url}/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case):
            # Every check but "schema-valid data is accepted": some rules are beyond a schema
            # (a mask must be a PNG the size of the image, an id must exist).
            case.call_and_validate(headers=auth_header, excluded_checks=[positive_data_acceptance])

        check()


def test_schema_documents_every_endpoint_and_auth(client):
    document = client.get("/v1/openapi.json").json()
    paths = set(document["paths"])
    for path in (
        "/v1/apps/images/generate",
        "/v1/apps/images/edit",
        "/v1/apps/images/reverse-search",
        "/v1/apps/images/models",
        "/v1/tasks/{task_id}",
        "/v1/tasks/{task_id}/cancel",
        "/v1/embeds/upload",
        "/v1/embeds/{embed_id}",
        "/v1/embeds/{embed_id}/file",
        "/v1/embeds/{embed_id}/content",
        "/v1/embeds/{embed_id}/crop",
        "/v1/embeds/{embed_id}/provenance",
    ):
        assert path in paths, path
    schemes = document["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert any(s.get("in") == "cookie" for s in schemes.values())
    generate = document["paths"]["/v1/apps/images/generate"]["post"]
    assert {"202", "400", "401", "429"} <= set(generate["responses"])
