"""Server configuration: one pydantic-settings class, read from `INTAKE_*` variables.

Nothing here connects anywhere; `create_app(settings)` and the CLI build the
engine and stores from an instance, so tests pass their own `Settings(...)`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 2**20
GiB = 2**30

# Values someone copies from an example file and forgets to change. Outside
# development they would let anyone mint proof-of-work challenges offline.
_PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "change_me", "secret", "placeholder", "example", "xxx", "todo"}
)
_MIN_POW_SECRET_CHARS = 32


class Settings(BaseSettings):
    """Everything the server reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", frozen=True)

    environment: Literal["development", "production", "test"] = "production"
    log_level: str = "INFO"

    database_url: str = "sqlite:///var/intake.db"
    blob_dir: Path = Path("var/blobs")
    blob_backend: Literal["fs", "db"] = "fs"

    # JSON text `{"threshold": n, "admins": [kid, ...]}`: the pinned admin set
    # the genesis manifest must match. Without it no genesis is accepted.
    trust_root: str | None = None

    max_envelope_bytes: int = Field(default=200 * MiB, gt=0)
    max_submission_bytes: int = Field(default=500 * MiB, gt=0)
    max_attachments: int = Field(default=20, ge=0)
    max_header_bytes: int = Field(default=65536, ge=64, le=65536)
    max_reply_bytes: int = Field(default=1 * MiB, gt=0)
    max_courier_body_bytes: int = Field(default=64 * MiB, gt=0)
    upload_chunk_bytes: int = Field(default=1 * MiB, gt=0)
    min_free_bytes: int = Field(default=1 * GiB, ge=0)

    pow_difficulty: int = Field(default=18, ge=0, le=32)
    pow_ttl_seconds: int = Field(default=1800, gt=0)
    pow_secret: SecretStr | None = None
    # Proof of work for each mailbox check (codename attempt). Never above
    # `pow_difficulty`: reading replies must not cost more than submitting.
    mailbox_pow_difficulty: int = Field(default=16, ge=0, le=32)
    # Adaptive price under load (per process): each doubling of the recent
    # rate of redeemed proofs above `pow_target_per_minute` adds one bit, up
    # to the maximum; the rate decays with `pow_load_half_life_seconds`, so
    # the price falls back once the load goes. A maximum at or below the
    # base difficulty, or a target of 0, keeps the price fixed. At the
    # defaults the maximum is reached well below the rate the buckets allow
    # (app/ratelimit.py), so holding a bucket empty costs the most work; the
    # maximum is what honest people pay then (2^22 is about 40 s in a
    # desktop browser on a busy machine, longer on a phone).
    pow_max_difficulty: int = Field(default=22, ge=0, le=32)
    mailbox_pow_max_difficulty: int = Field(default=20, ge=0, le=32)
    pow_target_per_minute: float = Field(default=10.0, ge=0)
    mailbox_pow_target_per_minute: float = Field(default=10.0, ge=0)
    pow_load_half_life_seconds: float = Field(default=60.0, gt=0)

    # A previous manifest stays acceptable this long after its successor
    # arrives, so uploads sealed just before a rotation are not lost.
    manifest_grace_hours: int = Field(default=24, ge=0)
    # Unfinished uploads are abandoned after this long (purge removes them).
    upload_expiry_hours: int = Field(default=72, gt=0)
    # Replies are deleted this many days after the applicant first fetched them.
    reply_retention_days: int = Field(default=30, gt=0)
    # ... and unread ones after this many days.
    unread_reply_retention_days: int = Field(default=180, gt=0)

    # Multiplies every rate limit's rate and burst; 0 disables rate limiting.
    rate_limit_scale: float = Field(default=1.0, ge=0)

    onion_location: str | None = None
    https: bool = False

    @field_validator("trust_root")
    @classmethod
    def _trust_root_parses(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from crypto import TrustRoot

        try:
            TrustRoot.parse(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                'trust_root must be JSON {"threshold": n, "admins": [kid, ...]}'
            ) from exc
        return value

    @model_validator(mode="after")
    def _pow_secret_is_real(self) -> Settings:
        if self.pow_secret is None:
            # Random per process: fine for one instance; several instances
            # behind one address must share a configured secret.
            object.__setattr__(self, "pow_secret", SecretStr(secrets.token_hex(32)))
            return self
        value = self.pow_secret.get_secret_value()
        weak = value.strip().lower() in _PLACEHOLDER_SECRETS or len(value) < _MIN_POW_SECRET_CHARS
        if weak and self.environment != "development":
            raise ValueError(
                f"INTAKE_POW_SECRET is a placeholder or shorter than {_MIN_POW_SECRET_CHARS} "
                "characters; set a random value (python -c 'import secrets; "
                "print(secrets.token_hex(32))') or leave it unset"
            )
        return self

    @property
    def pow_key(self) -> bytes:
        """The HMAC key for proof-of-work challenges."""
        if self.pow_secret is None:  # the validator always sets it
            raise RuntimeError("pow_secret missing")
        return self.pow_secret.get_secret_value().encode()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
