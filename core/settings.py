"""Service settings, read from the environment (prefix ``C2C_``) or a ``.env`` file.

Every setting is validated against the policy (``core.protection``) when it is read, so a
value out of bounds stops the command or the API at start-up with ``ConfigError`` naming the
variable, instead of failing later in front of someone who cannot fix it.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core import protection
from core.errors import ConfigError

# Splink backends: DuckDB in this deployment; Spark (splink.SparkAPI) where a cluster exists.
LinkageBackend = Literal["duckdb", "spark"]


class Settings(BaseSettings):
    """Every path derives from ``home`` unless set on its own: one variable moves a deployment."""

    model_config = SettingsConfigDict(env_prefix="C2C_", env_file=".env", extra="ignore")

    home: Path = Path("./.c2c")
    master_key_file: Path | None = None
    database_url: str | None = Field(
        default=None, description="Governance store; SQLite under home when unset."
    )
    # Partners' drop folder. Outside home on purpose: dropped files are plaintext, and nothing
    # under home may be (the raw store keeps the encrypted copy of every file received).
    landing_dir: Path = Path("./landing")

    duckdb_threads: int = Field(default=2, ge=1)
    duckdb_memory_limit: str = "6GB"
    # Candidate pairs the link's predict scores per slice (linkage/model.py predict_chunks);
    # unset, it follows C2C_DUCKDB_MEMORY_LIMIT (docs/scale.md).
    link_predict_chunk_pairs: int | None = Field(default=None, ge=1)

    linkage_backend: LinkageBackend = "duckdb"
    # Spark backend (linkage/spark_backend.py, docs/linkage.md): master URL (local[N],
    # spark://host:port, yarn, k8s://...), driver memory (fixed when the JVM starts) and
    # shuffle partitions (Splink's guide: about 5x the cores in the cluster).
    spark_master: str = "local[2]"
    spark_driver_memory: str = "4g"
    spark_shuffle_partitions: int = Field(default=4, ge=1)
    # 0.9: with the enrolment cannot-link (linkage/enrolment.py) separating namesakes, a lower
    # threshold regains recall at the precision target (docs/linkage.md section 7).
    link_match_threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    review_lower_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # Pairs in the clerical sample each link run draws to estimate precision and recall
    # (linkage/quality.py, docs/linkage.md "Linkage quality without a truth file").
    quality_sample_pairs: int = Field(default=400, ge=1, le=100_000)

    # Asset-check floors: share of the first source's people found in the second.
    match_rate_floors: dict[str, float] = Field(default_factory=lambda: {"ccgi->calpads": 0.9})

    suppression_min_cell: int = Field(default=protection.MIN_CELL, ge=protection.MIN_CELL_FLOOR)
    k_anonymity: int = Field(default=protection.K_ANONYMITY, ge=protection.K_ANONYMITY_FLOOR)
    board_quorum: int = Field(default=protection.BOARD_QUORUM, ge=protection.BOARD_QUORUM_FLOOR)
    upload_max_bytes: int = Field(default=2 * 1024**3, ge=1)
    extract_default_days: int = Field(
        default=protection.EXTRACT_DEFAULT_DAYS, ge=protection.EXTRACT_DAYS_FLOOR
    )

    # Provider review window (business days) for the data stewards of partners whose records a
    # request would use (governance.provider_review).
    provider_review_days: int = Field(default=protection.PROVIDER_REVIEW_DAYS,
                                      ge=protection.PROVIDER_REVIEW_DAYS_FLOOR,
                                      le=protection.PROVIDER_REVIEW_DAYS_CEILING)

    # Portal sign-ins end after this many idle minutes (the API key itself does not expire).
    portal_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)

    # E-mail notifications (governance.notify); off while smtp_host is unset.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "c2c-link@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    # Instead of SMTP: every message is written to this Maildir (``c2c demo`` uses it so the
    # mail the service would send can be read without a mail server). SMTP wins when both are set.
    mail_dir: Path | None = None

    @field_validator("linkage_backend", mode="before")
    @classmethod
    def _backend_lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_is_a_size(cls, value: str) -> str:
        if not re.fullmatch(r"(?i)\s*\d+(\.\d+)?\s*([KMGT]i?)?B\s*", value):
            raise ValueError("a size such as 6GB, 512MB or 4GiB")
        return value

    @field_validator("match_rate_floors")
    @classmethod
    def _floors_are_shares(cls, value: dict[str, float]) -> dict[str, float]:
        for pair, floor in value.items():
            if "->" not in pair:
                raise ValueError(f"{pair!r}: name a source pair as 'source->target'")
            if not 0.0 <= floor <= 1.0:
                raise ValueError(f"{pair!r}: a match-rate floor is a share in [0, 1]")
        return value

    @model_validator(mode="after")
    def _review_band_below_match(self) -> Self:
        if self.review_lower_threshold > self.link_match_threshold:
            raise ValueError("review_lower_threshold must not exceed link_match_threshold")
        return self

    @cached_property
    def resolved_home(self) -> Path:
        return self.home.expanduser().absolute()

    @property
    def master_key_path(self) -> Path:
        return self.master_key_file or self.resolved_home / "master.key"

    @property
    def keyring_path(self) -> Path:
        return self.resolved_home / "keyring.json"

    @property
    def warehouse_path(self) -> Path:
        return self.resolved_home / "warehouse.duckdb"

    @property
    def serving_path(self) -> Path:
        return self.resolved_home / "serving.duckdb"

    @property
    def raw_dir(self) -> Path:
        return self.resolved_home / "raw"

    @property
    def landing_path(self) -> Path:
        return self.landing_dir.expanduser().absolute()

    @property
    def extracts_dir(self) -> Path:
        return self.resolved_home / "extracts"

    @property
    def runs_dir(self) -> Path:
        return self.resolved_home / "runs"

    @property
    def reports_dir(self) -> Path:
        return self.resolved_home / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.resolved_home / "dagster"

    @property
    def duckdb_memory_limit_bytes(self) -> int:
        """C2C_DUCKDB_MEMORY_LIMIT in bytes (DuckDB's reading: KB/MB/GB are powers of 1000,
        KiB/MiB/GiB of 1024)."""
        match = re.fullmatch(r"(?i)\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B\s*",
                             self.duckdb_memory_limit)
        if not match:  # the validator admits nothing else
            raise ValueError(self.duckdb_memory_limit)
        number, unit, binary = match.groups()
        base = 1024 if binary else 1000
        return int(float(number) * base ** " KMGT".index(unit.upper() or " "))

    @property
    def tmp_dir(self) -> Path:
        return self.resolved_home / "tmp"

    @property
    def governance_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_home / 'governance.db'}"


def get_settings(**overrides: Any) -> Settings:
    """Read settings now; callers pass the result on instead of reading globals.

    ``ConfigError`` names each variable out of bounds (never its value: a URL can hold a
    password).
    """
    try:
        return Settings(**overrides)
    except ValidationError as invalid:
        raise ConfigError(f"invalid settings: {describe_invalid(invalid)}") from None


def describe_invalid(invalid: ValidationError) -> str:
    """``C2C_NAME: what is wrong`` for every error; the input values are left out."""
    parts = []
    for error in invalid.errors(include_input=False, include_url=False):
        field = ".".join(str(p) for p in error.get("loc", ()) if isinstance(p, str))
        name = f"C2C_{field.split('.')[0].upper()}" if field else "settings"
        parts.append(f"{name}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)
