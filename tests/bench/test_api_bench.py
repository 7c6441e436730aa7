"""The API bench's core on a handful of rows on PostgreSQL: correct under concurrency, not fast."""

from __future__ import annotations

import pytest

from bench import api as bench
from bench.common import backend_url, pg_reachable

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def phases() -> list[bench.Phase]:
    if not pg_reachable()[0]:
        pytest.skip("no PostgreSQL server reachable")
    with backend_url("postgresql") as url:
        return bench.measure(url, orders=12, clients=[1, 4], rounds=7, warmup=4)


def test_every_path_and_scenario_is_measured_for_each_client_count(phases: list[bench.Phase]) -> None:
    assert {(p.scenario, p.clients, p.path) for p in phases} == {
        (s, c, path) for s in bench.SCENARIOS for c in (1, 4) for path in bench.PATHS
    }


def test_distinct_rows_all_go_through(phases: list[bench.Phase]) -> None:
    for p in (p for p in phases if p.scenario == "distinct"):
        assert (p.won, p.lost, p.requests) == (12, 0, 12), p


def test_racing_clients_get_exactly_one_winner_per_version_and_lose_no_update(phases: list[bench.Phase]) -> None:
    for p in (p for p in phases if p.scenario == "contended"):
        assert p.winners_per_version == {v: 1 for v in range(1, 8)}, p
        assert (p.won, p.lost) == (7, 7 * (p.clients - 1)), p  # the losers got 409 / a stale version


def test_the_contended_check_catches_two_winners_of_one_version() -> None:
    # the bench's own check must be able to fail: two 200s for version 3 is a lost update
    phase = bench.Phase("contended", 2, "api", latencies=[0.001] * 4, won=3, lost=1,
                        winners_per_version={1: 1, 2: 2})
    with pytest.raises(AssertionError, match="winners per version"):
        bench.check_contended(None, phase, order_id=1, rounds=2)  # type: ignore[arg-type]


def test_the_report_prints_the_ratios(phases: list[bench.Phase], capsys: pytest.CaptureFixture[str]) -> None:
    bench.report(phases, orders=12, rounds=7)
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("| distinct", "| contended"))]
    assert len(rows) == 2 * 2 * 3 + 2 * 2  # the figures, then one ratio row per scenario and C
    assert all(cell.strip().endswith("×") for row in rows[-4:] for cell in row.strip("|").split("|")[2:])
