"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under
``REPLYDESK_SECRET_KEY``, with ``REPLYDESK_SECRET_KEY_OLD`` still accepted for reading.

Decision 0005 (docs/decisions/0005-credentials-encryption.md) says why Fernet and how keys
rotate. The embedded mode (no database URL) generates a key into ``data_dir/secret_key``
(mode 0600) on first start; with an external database and no key nothing can be stored
(``SecretKeyMissing``, 503 ``secret_key_missing``).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from replydesk.core.errors import Unavailable
from replydesk.core.log_categories import LogCategory
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings

log = get_logger(__name__)

KEY_FILE_NAME = "secret_key"
KEY_HELP = (
    "REPLYDESK_SECRET_KEY must be a Fernet key (32 url-safe base64-encoded bytes); generate "
    "one with: python -c "
    '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class SecretKeyMissing(Unavailable):
    code = "secret_key_missing"


class SecretKeyInvalid(ValueError):
    """A configured key is not a Fernet key: the process must not start with it."""


class UnreadableSecret(Exception):
    """A stored secret does not decrypt with any configured key (or belongs to another row)."""


def _fernet(value: str, name: str) -> Fernet:
    try:
        return Fernet(value.strip().encode())
    except (ValueError, TypeError):
        raise SecretKeyInvalid(f"{name} is not a valid key. {KEY_HELP}") from None


def ensure_key_file(data_dir: Path) -> str:
    """The embedded mode's key: read ``data_dir/secret_key``, creating it (0600) if absent.
    ``O_EXCL`` makes concurrent first starts agree on one key."""
    path = data_dir / KEY_FILE_NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode() + "\n")
        log.info("secret_key_generated", path=str(path))
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning(
            "secret_key_file_readable_by_others",
            category=LogCategory.OTHER,
            error_class="config",
            path=str(path),
        )
    return path.read_text().strip()


@dataclass(frozen=True)
class KeyRing:
    """The keys this process has: the first encrypts, all decrypt. ``None`` inside = no key."""

    box: MultiFernet | None

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        if settings.secret_key is not None:
            primary = _fernet(settings.secret_key.get_secret_value(), "REPLYDESK_SECRET_KEY")
        elif settings.embedded:
            key_file = settings.data_dir / KEY_FILE_NAME
            primary = _fernet(ensure_key_file(settings.data_dir), str(key_file))
        else:
            # An old key alone is no key: what it could read could not be written back.
            return cls(None)
        keys = [primary]
        if settings.secret_key_old is not None:
            old = _fernet(settings.secret_key_old.get_secret_value(), "REPLYDESK_SECRET_KEY_OLD")
            keys.append(old)
        return cls(MultiFernet(keys))

    @property
    def can_encrypt(self) -> bool:
        return self.box is not None

    def _require(self) -> MultiFernet:
        if self.box is None:
            raise SecretKeyMissing(
                "credentials cannot be stored or read: no secret key is configured for this "
                "external database; set REPLYDESK_SECRET_KEY (see README, 'Secret key')"
            )
        return self.box

    def seal(self, binding: str, secret: dict[str, Any]) -> str:
        """Encrypt ``secret`` bound to ``binding`` (e.g. workspace + provider): a token copied
        to another row does not open there."""
        plain = json.dumps({"binding": binding, "secret": secret}, separators=(",", ":"))
        return self._require().encrypt(plain.encode()).decode()

    def open(self, binding: str, token: str) -> dict[str, Any]:
        try:
            data = json.loads(self._require().decrypt(token.encode()))
        except InvalidToken:
            raise UnreadableSecret(
                "stored secret does not decrypt with the configured keys"
            ) from None
        if not isinstance(data, dict) or data.get("binding") != binding:
            raise UnreadableSecret("stored secret belongs to another record")
        secret = data.get("secret")
        if not isinstance(secret, dict):
            raise UnreadableSecret("stored secret has no content")
        return secret

    def rotate(self, token: str) -> str:
        """The same secret encrypted with the primary key (for finishing a key rotation)."""
        try:
            return self._require().rotate(token.encode()).decode()
        except InvalidToken:
            raise UnreadableSecret(
                "stored secret does not decrypt with the configured keys"
            ) from None
