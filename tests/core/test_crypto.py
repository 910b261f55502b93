"""Credentials encryption: the embedded key file, the external-database refusal, rotation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from replydesk.core.crypto import (
    KEY_FILE_NAME,
    KeyRing,
    SecretKeyInvalid,
    SecretKeyMissing,
    UnreadableSecret,
)
from replydesk.core.settings import Settings

EXTERNAL = "postgresql://u@db.example/replydesk"
SECRET = {"api_key": "9|q8kSmhjJRqJVT2kc1M0ezX640Pxk"}


def test_embedded_mode_generates_a_private_key_file_once(tmp_path: Path) -> None:
    settings = Settings(database_url=None, data_dir=tmp_path / "data")
    first = KeyRing.from_settings(settings)
    key_file = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = first.seal("ws:emailbison", SECRET)
    # A second start (another process) reads the same key.
    assert KeyRing.from_settings(settings).open("ws:emailbison", token) == SECRET
    Fernet(key_file.read_text().strip().encode())  # a valid Fernet key


def test_external_database_without_a_key_stores_nothing(tmp_path: Path) -> None:
    settings = Settings(database_url=EXTERNAL, data_dir=tmp_path)
    ring = KeyRing.from_settings(settings)
    assert not ring.can_encrypt
    with pytest.raises(SecretKeyMissing) as missing:
        ring.seal("ws:ghl", SECRET)
    assert missing.value.code == "secret_key_missing"
    assert "REPLYDESK_SECRET_KEY" in missing.value.message
    assert not (tmp_path / KEY_FILE_NAME).exists()
    # An old key alone does not make a key ring either.
    old_only = Settings(database_url=EXTERNAL, secret_key_old=Fernet.generate_key().decode())
    assert not KeyRing.from_settings(old_only).can_encrypt


def test_the_ciphertext_holds_no_clear_secret_and_is_bound_to_its_record() -> None:
    ring = KeyRing.from_settings(
        Settings(database_url=EXTERNAL, secret_key=Fernet.generate_key().decode())
    )
    token = ring.seal("ws-a:emailbison", SECRET)
    assert SECRET["api_key"] not in token
    assert "q8kSmhjJ" not in token
    with pytest.raises(UnreadableSecret, match="another record"):
        ring.open("ws-b:emailbison", token)


def test_rotation_reads_with_the_old_key_and_writes_with_the_new() -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = KeyRing.from_settings(Settings(database_url=EXTERNAL, secret_key=old_key))
    old_token = before.seal("ws:unipile", SECRET)
    rotated = KeyRing.from_settings(
        Settings(database_url=EXTERNAL, secret_key=new_key, secret_key_old=old_key)
    )
    assert rotated.open("ws:unipile", old_token) == SECRET
    new_token = rotated.seal("ws:unipile", SECRET)
    only_new = KeyRing.from_settings(Settings(database_url=EXTERNAL, secret_key=new_key))
    assert only_new.open("ws:unipile", new_token) == SECRET
    with pytest.raises(UnreadableSecret, match="configured keys"):
        only_new.open("ws:unipile", old_token)


def test_a_malformed_key_stops_the_start_with_how_to_make_one() -> None:
    with pytest.raises(SecretKeyInvalid, match=r"Fernet\.generate_key"):
        KeyRing.from_settings(Settings(database_url=EXTERNAL, secret_key="too-short"))
