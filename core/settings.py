"""Service settings, read from the environment (prefix ``C2C_``) or a ``.env`` file."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    duckdb_threads: int = 2
    duckdb_memory_limit: str = "6GB"

    linkage_backend: str = "duckdb"
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

    # Asset-check floors: share of the first source's people found in the second.
    match_rate_floors: dict[str, float] = Field(default_factory=lambda: {"ccgi->calpads": 0.9})

    suppression_min_cell: int = 11
    k_anonymity: int = 11
    board_quorum: int = 2
    upload_max_bytes: int = 2 * 1024**3
    extract_default_days: int = 365

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
    def tmp_dir(self) -> Path:
        return self.resolved_home / "tmp"

    @property
    def governance_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_home / 'governance.db'}"


def get_settings() -> Settings:
    """Read settings now; callers pass the result on instead of reading globals."""
    return Settings()
