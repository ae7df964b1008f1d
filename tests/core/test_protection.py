"""Protection parameters: named once in core, Settings bounded by them, checked at the edges.

Every named threshold is tested one below, at, and one above its bound (issue 17).
"""

from __future__ import annotations

import pytest

from core import protection
from core.errors import ConfigError, InternalError, UserError
from core.settings import Settings, get_settings

# (setting, floor, policy default)
BOUNDED = [
    ("suppression_min_cell", protection.MIN_CELL_FLOOR, protection.MIN_CELL),
    ("k_anonymity", protection.K_ANONYMITY_FLOOR, protection.K_ANONYMITY),
    ("board_quorum", protection.BOARD_QUORUM_FLOOR, protection.BOARD_QUORUM),
    ("extract_default_days", protection.EXTRACT_DAYS_FLOOR, protection.EXTRACT_DEFAULT_DAYS),
    ("duckdb_threads", 1, 2),
    ("upload_max_bytes", 1, 2 * 1024**3),
]


def test_defaults_are_the_policy() -> None:
    settings = Settings()
    assert (settings.suppression_min_cell, settings.k_anonymity, settings.board_quorum,
            settings.extract_default_days) == (11, 11, 2, 365)


@pytest.mark.parametrize(("name", "floor", "default"), BOUNDED)
def test_settings_floor_one_below_at_and_above(name: str, floor: int, default: int) -> None:
    with pytest.raises(ConfigError, match=f"C2C_{name.upper()}"):
        get_settings(**{name: floor - 1})
    assert getattr(get_settings(**{name: floor}), name) == floor
    assert getattr(get_settings(**{name: floor + 1}), name) == floor + 1
    assert getattr(get_settings(), name) == default


def test_a_bad_environment_variable_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("C2C_BOARD_QUORUM", "0")
    with pytest.raises(ConfigError, match="C2C_BOARD_QUORUM") as caught:
        get_settings()
    # an operator's setting is the service's fault, never the caller's
    assert isinstance(caught.value, InternalError) and not isinstance(caught.value, UserError)


@pytest.mark.parametrize(
    ("check", "floor"),
    [(protection.require_min_cell, protection.MIN_CELL_FLOOR),
     (protection.require_k, protection.K_ANONYMITY_FLOOR),
     (protection.require_quorum, protection.BOARD_QUORUM_FLOOR),
     (protection.require_extract_days, protection.EXTRACT_DAYS_FLOOR)],
)
def test_library_checks_one_below_at_and_above(check: object, floor: int) -> None:
    assert callable(check)
    with pytest.raises(ConfigError):
        check(floor - 1)
    assert check(floor) == floor
    assert check(floor + 1) == floor + 1


def test_max_suppression_is_a_share() -> None:
    with pytest.raises(ConfigError):
        protection.require_max_suppression(-0.01)
    assert protection.require_max_suppression(0.0) == 0.0
    assert protection.require_max_suppression(1.0) == 1.0
    with pytest.raises(ConfigError):
        protection.require_max_suppression(1.01)


@pytest.mark.parametrize(("value", "ok"), [("duckdb", True), ("spark", True), ("DuckDB", True),
                                          (" spark ", True), ("postgres", False), ("", False)])
def test_linkage_backend_is_one_of_the_supported(value: str, ok: bool) -> None:
    if ok:
        assert get_settings(linkage_backend=value).linkage_backend == value.strip().lower()
    else:
        with pytest.raises(ConfigError, match="C2C_LINKAGE_BACKEND"):
            get_settings(linkage_backend=value)


@pytest.mark.parametrize(("lower", "ok"), [(0.89, True), (0.9, True), (0.91, False)])
def test_review_band_ends_at_the_match_threshold(lower: float, ok: bool) -> None:
    if ok:
        assert get_settings(review_lower_threshold=lower).review_lower_threshold == lower
    else:
        with pytest.raises(ConfigError, match="review_lower_threshold"):
            get_settings(review_lower_threshold=lower)


@pytest.mark.parametrize(("threshold", "ok"), [(-0.01, False), (0.0, True), (1.0, True),
                                               (1.01, False)])
def test_link_threshold_is_a_probability(threshold: float, ok: bool) -> None:
    if ok:
        get_settings(link_match_threshold=threshold, review_lower_threshold=0.0)
    else:
        with pytest.raises(ConfigError, match="C2C_LINK_MATCH_THRESHOLD"):
            get_settings(link_match_threshold=threshold, review_lower_threshold=0.0)


@pytest.mark.parametrize(("floor", "ok"), [(-0.01, False), (0.0, True), (1.0, True),
                                           (1.01, False)])
def test_match_rate_floors_are_shares(floor: float, ok: bool) -> None:
    if ok:
        assert get_settings(match_rate_floors={"ccgi->calpads": floor}).match_rate_floors
    else:
        with pytest.raises(ConfigError, match="C2C_MATCH_RATE_FLOORS"):
            get_settings(match_rate_floors={"ccgi->calpads": floor})


@pytest.mark.parametrize(("limit", "ok"), [("6GB", True), ("512 MB", True), ("4GiB", True),
                                           ("lots", False), ("6", False)])
def test_memory_limit_is_a_size(limit: str, ok: bool) -> None:
    if ok:
        assert get_settings(duckdb_memory_limit=limit).duckdb_memory_limit == limit
    else:
        with pytest.raises(ConfigError, match="C2C_DUCKDB_MEMORY_LIMIT"):
            get_settings(duckdb_memory_limit=limit)


def test_config_errors_never_echo_the_value() -> None:
    secret_url = "postgresql://user:hunter2@host/db"
    with pytest.raises(ConfigError) as caught:
        get_settings(database_url=secret_url, board_quorum=0)
    assert "hunter2" not in str(caught.value)


def test_review_window_bounds_are_the_operators() -> None:
    """The provider review window and the link thresholds are settings: a bad value reaching
    governance or linkage is the operator's fault (ConfigError, exit 1 / HTTP 500), never a
    user's 422 / exit 2."""
    assert get_settings().provider_review_days == protection.PROVIDER_REVIEW_DAYS == 10
    for bad in (protection.PROVIDER_REVIEW_DAYS_FLOOR - 1,
                protection.PROVIDER_REVIEW_DAYS_CEILING + 1):
        with pytest.raises(ConfigError, match="C2C_PROVIDER_REVIEW_DAYS"):
            protection.require_review_days(bad)
        assert not issubclass(ConfigError, UserError)
    assert protection.require_review_days(protection.PROVIDER_REVIEW_DAYS_FLOOR) == 1
    assert protection.require_review_days(protection.PROVIDER_REVIEW_DAYS_CEILING) == 60
    protection.require_link_thresholds(0.5, 0.5)
    with pytest.raises(ConfigError, match="review_lower_threshold"):
        protection.require_link_thresholds(0.6, 0.5)


def test_open_reviews_treats_a_bad_window_as_configuration(tmp_path: object) -> None:
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from governance import provider_review
    from governance.models import DataRequest

    request = DataRequest(id="r", requester_id=1, kind="aggregate", title="t", purpose="p" * 10,
                          variables=["x"], cohort={}, group_by=[])
    with pytest.raises(ConfigError, match="provider review window"):
        provider_review.open_reviews(Session(), request, now=datetime.now(UTC),
                                     business_days=0)
