"""The OpenAPI schema is a contract: schemathesis drives the live app from it.

Every operation gets generated requests (valid and invalid) with a real API key, and every one
of schemathesis's checks runs on every response (``--checks all``): no 5xx, only documented
status codes, content types, headers and response schemas, schema-invalid requests refused,
schema-valid requests accepted. It runs in ``make test`` (part of the pytest suite), so a
mismatch between what the schema says and what the server enforces fails CI.

Schema-valid requests are accepted unless refused for a rule no schema can state; those few
refusals are named here (error code and field) so that anything else still fails: an id that
does not exist (404), a model that exists but whose provider is not configured on this server,
bytes that are not a decodable image, a webhook host that does not resolve to a public address,
a mask or a crop rectangle that does not fit the image, a regeneration of an image no provider
made. The schema has no links (no operation's response names another's parameters in a way
drf-spectacular declares), so there is no stateful phase to run.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytestmark = pytest.mark.django_db(transaction=True)

sealing_variants = ("original", "full", "preview")
IMAGE_CODES = {
    "not_an_image",
    "truncated",
    "unsupported_format",
    "too_many_pixels",
    "side_too_long",
    "image_too_large",
    "empty_file",
}
# (error code, field) refusals of schema-valid requests that depend on state or content.
BEYOND_SCHEMA = {
    ("provider_unavailable", "model"),  # a listed model whose provider has no key here
    ("invalid_value", "model"),  # e.g. a model that cannot edit
    ("invalid_value", "image_size"),  # sizes depend on the model
    ("invalid_value", "webhook_url"),  # must resolve to a public address
    ("invalid_value", "mask"),  # must be a PNG the size of the image
    ("invalid_value", "width"),  # the crop must lie inside the image
    ("invalid_value", "height"),
    ("invalid_value", "regenerate"),  # only generated images can be made again
    ("missing_field", "file"),  # a multipart part without a filename is not a file
    ("provider_unavailable", None),  # reverse search without SERPAPI_API_KEY
    # A private upload's parts: all three required in client mode, each an OMC1 envelope.
    *(
        (code, part)
        for code in ("missing_field", "invalid_value")
        for part in ("original", "full", "preview")
    ),
    ("invalid_value", "wrapped_key"),  # required in client mode
    ("invalid_value", "encrypted_meta"),  # must hold an OMC1 envelope
}


@schemathesis.check
def positive_data_accepted_unless_beyond_schema(ctx, response, case):
    """Schema-valid data is accepted (2xx, or an auth/404/409/429 answer), or refused only for
    one of the reasons listed in BEYOND_SCHEMA."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code < 400:
        return None
    if response.status_code in (401, 403, 404, 409, 429):
        return None
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        error = {}
    code, field = error.get("code"), error.get("field")
    if (code, field) in BEYOND_SCHEMA or (field == "file" and code in IMAGE_CODES):
        return None
    raise AssertionError(
        f"Schema-valid request refused: {response.status_code} {response.content[:300]!r}\n"
        f"{case.as_curl_command()}"
    )


@pytest.fixture
def auth_header(alice):
    from accounts.api_keys import do_create_api_key

    return {"Authorization": f"Bearer {do_create_api_key(alice).raw_key}"}


SHARDS = 4


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_conforms(live_server, auth_header, shard):
    """Schemathesis's generated cases for every operation, through its Python API (its pytest
    plugin does not support this pytest yet). Failures of a shard's operations are reported
    together. The operations are dealt out to ``SHARDS`` tests (every SHARDS-th by label), so
    the suite's workers share the work instead of one of them running all of it."""
    schema = schemathesis.openapi.from_url(f"{live_server.url}/v1/openapi.json")
    everything = sorted((result.ok() for result in schema.get_all_operations()), key=lambda op: op.label)
    assert len(everything) >= 12
    operations = everything[shard::SHARDS]
    assert operations
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case):
            # Every built-in check; "schema-valid data is accepted" in the stricter form above.
            case.call_and_validate(
                headers=auth_header,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[positive_data_accepted_unless_beyond_schema],
            )

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {str(exc)[:2500]}")
    assert not failures, "\n\n".join(failures)


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
    assert {"202", "400", "401", "422", "429"} <= set(generate["responses"])


def test_request_bodies_say_what_the_server_enforces(client):
    """The mismatches schemathesis found, each stated in the schema now."""
    document = client.get("/v1/openapi.json").json()
    components = document["components"]["schemas"]
    strict = ("ChatInput", "PatchedChatInput", "MessageInput", "GenerateInput", "EditInput", "CropInput")
    for name in (*strict, "ReportInput"):
        assert components[name]["additionalProperties"] is False, name
    model = components["GenerateInput"]["properties"]["model"]
    assert model["minLength"] == 1  # "" is refused
    names = components[model["allOf"][0]["$ref"].rsplit("/", 1)[1]]["enum"]  # the registry's names
    assert {"local/procedural", "offline"} <= set(names)
    assert "anyOf" in components["MessageInput"]  # some text, or an image
    for path in ("/v1/embeds/upload", "/v1/embeds/{embed_id}/crop"):  # uploads and crops are limited
        assert "429" in document["paths"][path]["post"]["responses"], path
    body = document["paths"]["/v1/apps/images/reverse-search"]["post"]["requestBody"]["content"]
    json_schema = components[body["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    # The image to search for, and optionally the chat the exchange is written into.
    assert set(json_schema["properties"]) == {"embed_id", "chat_id"} and json_schema["required"] == [
        "embed_id"
    ]
