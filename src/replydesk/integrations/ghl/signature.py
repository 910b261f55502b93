"""GoHighLevel webhook signatures over the raw body.

- ``X-GHL-Signature``: Ed25519, base64 (the current scheme).
- ``x-wh-signature``: RSA-SHA256 PKCS#1 v1.5, base64 (the legacy scheme).

When a workspace has a key configured, a request must carry a signature that verifies with one of
its keys (Ed25519 tried first); unsigned or badly signed requests are rejected. Without keys,
signature headers are ignored and the webhook token alone authenticates (fail-closed only where a
key makes checking possible; never "anything verifies").
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from replydesk.core.errors import Unauthenticated
from replydesk.core.log_categories import LogCategory
from replydesk.core.logging import get_logger
from replydesk.integrations.base import Scope

log = get_logger(__name__)

ED25519_HEADER = "x-ghl-signature"
RSA_HEADER = "x-wh-signature"
# A base64 signature is far shorter; anything longer is not worth decoding.
MAX_SIGNATURE_CHARS = 2048


@dataclass(frozen=True)
class GhlKeys:
    rsa: RSAPublicKey | None = None
    ed25519: Ed25519PublicKey | None = None
    # Set when a key is configured but cannot be loaded: every request is rejected.
    broken: str | None = None

    @property
    def required(self) -> bool:
        return self.rsa is not None or self.ed25519 is not None or self.broken is not None


def _load_key(pem: str | None, name: str, kind: str, cls: type, problems: list[str]) -> Any:
    """The public key of class ``cls`` in ``pem``, or None (a problem is noted if broken)."""
    if not pem:
        return None
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        problems.append(f"{name} is not a PEM public key")
        return None
    if not isinstance(key, cls):
        problems.append(f"{name} is not an {kind} key")
        return None
    return key


def load_ghl_keys(rsa_pem: str | None, ed25519_pem: str | None) -> GhlKeys:
    problems: list[str] = []
    rsa = _load_key(rsa_pem, "ghl_rsa_public_key", "RSA", RSAPublicKey, problems)
    ed = _load_key(ed25519_pem, "ghl_ed25519_public_key", "Ed25519", Ed25519PublicKey, problems)
    return GhlKeys(rsa=rsa, ed25519=ed, broken="; ".join(problems) or None)


def load_workspace_keys(workspace_id: uuid.UUID, scope: Scope) -> GhlKeys:
    """The workspace's keys, loaded once per auth-cache fill."""
    keys = load_ghl_keys(scope.ghl_rsa_public_key, scope.ghl_ed25519_public_key)
    if keys.broken:
        # Someone must fix the workspace's configuration; GHL webhooks are rejected until then.
        log.error(
            "ghl_public_key_invalid",
            category=LogCategory.OTHER,
            error_class="config",
            workspace_id=str(workspace_id),
            problem=keys.broken,
        )
    return keys


def _decode(value: str) -> bytes | None:
    if len(value) > MAX_SIGNATURE_CHARS:
        return None
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _signature_ok(signature: str, check: Callable[[bytes], None]) -> bool:
    """``check`` raises when the decoded signature does not match."""
    raw = _decode(signature)
    if raw is None:
        return False
    try:
        check(raw)
    except (InvalidSignature, ValueError):
        return False
    return True


def _ed25519_ok(key: Ed25519PublicKey, body: bytes, signature: str) -> bool:
    return _signature_ok(signature, lambda raw: key.verify(raw, body))


def _rsa_ok(key: RSAPublicKey, body: bytes, signature: str) -> bool:
    return _signature_ok(
        signature, lambda raw: key.verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    )


def verify_ghl(keys: GhlKeys, body: bytes, headers: Mapping[str, str]) -> None:
    """Raise ``Unauthenticated`` unless the body is signed by one of the workspace's keys."""
    if not keys.required:
        return
    if keys.broken is not None:
        raise Unauthenticated(
            "GHL signature cannot be verified: this workspace's GHL key is invalid"
        )
    ed_sig = headers.get(ED25519_HEADER)
    rsa_sig = headers.get(RSA_HEADER)
    usable = (keys.ed25519 is not None and ed_sig) or (keys.rsa is not None and rsa_sig)
    if not usable:
        expected = " or ".join(
            name
            for name, key in (("X-GHL-Signature", keys.ed25519), ("x-wh-signature", keys.rsa))
            if key is not None
        )
        raise Unauthenticated(f"GHL signature required ({expected} header)")
    if keys.ed25519 is not None and ed_sig and _ed25519_ok(keys.ed25519, body, ed_sig):
        return
    if keys.rsa is not None and rsa_sig and _rsa_ok(keys.rsa, body, rsa_sig):
        return
    raise Unauthenticated("GHL signature does not verify")
