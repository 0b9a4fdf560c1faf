"""Settings: environment variables, and refusals of unsafe values."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from app.settings import Settings


def test_environment_variables_with_the_intake_prefix_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTAKE_DATABASE_URL", "sqlite:////tmp/elsewhere.db")
    monkeypatch.setenv("INTAKE_POW_DIFFICULTY", "20")
    monkeypatch.setenv("INTAKE_BLOB_BACKEND", "db")
    settings = Settings()
    assert settings.database_url == "sqlite:////tmp/elsewhere.db"
    assert settings.pow_difficulty == 20
    assert settings.blob_backend == "db"


def test_placeholder_pow_secret_is_refused_outside_development() -> None:
    for value in ("changeme", "secret", "short-but-not-a-placeholder"):
        with pytest.raises(ValidationError, match="INTAKE_POW_SECRET"):
            Settings(environment="production", pow_secret=SecretStr(value))
    assert (
        Settings(environment="development", pow_secret=SecretStr("changeme")).pow_key == b"changeme"
    )


def test_unset_pow_secret_is_random_per_process() -> None:
    first, second = Settings(), Settings()
    assert len(first.pow_key) == 64
    assert first.pow_key != second.pow_key


def test_trust_root_must_be_the_documented_json() -> None:
    with pytest.raises(ValidationError):
        Settings(trust_root="not json")
    with pytest.raises(ValidationError):
        Settings(trust_root='{"threshold": 2}')
    with pytest.raises(ValidationError):
        Settings(trust_root='{"threshold": 2, "admins": ["not-a-kid"]}')
    with pytest.raises(ValidationError):
        Settings(trust_root='{"threshold": 2, "admins": ["' + "a" * 32 + '"]}')  # 2 of 1
    assert Settings(trust_root="").trust_root is None
    text = '{"threshold": 1, "admins": ["' + "a" * 32 + '"]}'
    assert Settings(trust_root=text).trust_root == text


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(blob_backend="s3")  # type: ignore[arg-type]
