"""The intake bench still runs and its two paths still write the same rows (a tiny N, SQLite only)."""

from __future__ import annotations

from bench import intake as bench


def test_the_intake_bench_runs_and_both_paths_write_the_same_rows(capsys) -> None:  # type: ignore[no-untyped-def]
    assert bench.main(["--sizes", "1200", "--backends", "sqlite", "--import-batch", "500"]) == 0
    out = capsys.readouterr().out
    # 1200 records: 60 out of scope; 6 invalid phones; 4 in scope on two phones shared by three holders each
    # (the third holder's policy is out of scope but counts); 1 special revisit
    assert "'created': 1140" in out and "'invalid_phone': 6" in out
    assert "'shared_number': 4" in out and "'special': 1" in out
    [row] = [line for line in out.splitlines() if line.startswith("| sqlite")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["sqlite", "1,200", "1,140"]
    assert all(c.endswith("×") for c in (cells[5], cells[8], cells[9]))  # the three ratios are printed
