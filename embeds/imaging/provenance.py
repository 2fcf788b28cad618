"""C2PA: sign each rendition last, and read provenance back with c2pa's own Reader.

The manifest has a ``c2pa.actions`` assertion whose ``c2pa.created`` action carries the same
digitalSourceType as the XMP and names the AI system as ``softwareAgent``, followed by what was
done since (``c2pa.edited`` for an AI edit, ``c2pa.cropped`` for a crop). No thumbnails (they
would embed a user's image a second time), no remote manifest fetch, no network at all unless a
timestamp authority is configured. Signing errors raise: an unlabelled image is never stored as
if it were labelled.
"""

from __future__ import annotations

import io
import json
from functools import cache

import c2pa

from .pki import signing_identity
from .xmp import CREATOR_TOOL, VERSION, AiLabel


@cache
def _context(trust_anchor: bytes | None) -> c2pa.Context:
    settings: dict = {
        "builder": {"thumbnail": {"enabled": False}},
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    }
    if trust_anchor:
        settings["trust"] = {"user_anchors": trust_anchor.decode()}
    return c2pa.Context.from_dict(settings)


def _manifest(label: AiLabel) -> str:
    agent = {"name": label.model_name}
    if label.model_version:
        agent["version"] = label.model_version
    later = []
    for action in label.actions:
        step: dict = {"action": action}
        if action == "c2pa.edited":  # the edit itself was made by the AI system
            step.update(digitalSourceType=label.digital_source_type, softwareAgent=agent)
        else:
            step["softwareAgent"] = {"name": "OpenMates Images", "version": VERSION}
        later.append(step)
    return json.dumps(
        {
            "claim_generator_info": [{"name": "OpenMates Images", "version": VERSION}],
            "title": CREATOR_TOOL,
            "assertions": [
                {
                    "label": "c2pa.actions",
                    "data": {
                        "actions": [
                            {
                                "action": "c2pa.created",
                                "digitalSourceType": label.digital_source_type,
                                "softwareAgent": agent,
                            },
                            *later,
                        ]
                    },
                }
            ],
        }
    )


def sign(data: bytes, mime: str, label: AiLabel) -> bytes:
    identity = signing_identity()
    info = c2pa.C2paSignerInfo(
        alg=c2pa.C2paSigningAlg.ES256,
        sign_cert=identity.chain_pem,
        private_key=identity.key_pem,
        ta_url=identity.tsa_url.encode() if identity.tsa_url else None,
    )
    source, dest = io.BytesIO(data), io.BytesIO()
    with (
        c2pa.Signer.from_info(info) as signer,
        c2pa.Builder(_manifest(label), _context(identity.trust_anchor_pem)) as builder,
    ):
        for ingredient in label.ingredients:  # the references: with their own manifests, if any
            builder.add_ingredient(
                {"title": ingredient.title, "relationship": "inputTo"},
                ingredient.mime,
                io.BytesIO(ingredient.data),
            )
        builder.sign(signer, mime, source, dest)
    return dest.getvalue()


def read_provenance(data: bytes, mime: str) -> dict:
    """The C2PA state of these exact bytes, as c2pa's Reader sees it."""
    identity = signing_identity()
    try:
        with c2pa.Reader(mime, io.BytesIO(data), context=_context(identity.trust_anchor_pem)) as reader:
            store = json.loads(reader.json())
            state = reader.get_validation_state() or "Invalid"
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "not found" in str(exc).lower():
            return {"state": "none"}
        return {"state": "Invalid", "error": type(exc).__name__}
    active = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    actions: list = []
    for assertion in active.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            actions.extend(assertion.get("data", {}).get("actions", []))
    created = next((a for a in actions if a.get("action") == "c2pa.created"), {})
    ingredients = [
        {"title": i.get("title"), "relationship": i.get("relationship"), "manifest": i.get("active_manifest")}
        for i in active.get("ingredients", [])
    ]
    signature = active.get("signature_info", {})
    agent = created.get("softwareAgent")
    return {
        "state": state,
        "digital_source_type": created.get("digitalSourceType"),
        "ai_system": agent.get("name") if isinstance(agent, dict) else agent,
        "actions": [
            {"action": a.get("action"), "digitalSourceType": a.get("digitalSourceType")} for a in actions
        ],
        "ingredients": ingredients,
        "signer": signature.get("common_name") or signature.get("issuer"),
        "issuer": signature.get("issuer"),
        # "Trusted" against our own local test root says the signature is intact, not that a
        # public verifier (Content Credentials, Adobe) would trust it.
        "trust_anchor": "local_test_root" if identity.trust_anchor_pem else "verifier_trust_list",
        "claim_generator": (active.get("claim_generator_info") or [{}])[0].get("name"),
        "validation_errors": [
            s.get("code") for s in store.get("validation_status", []) if "untrusted" not in str(s.get("code"))
        ],
    }
