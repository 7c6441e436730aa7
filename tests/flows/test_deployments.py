"""``prefect.yaml`` (the production route) and ``caseflow serve`` (the embedded one) deploy the same set."""

from __future__ import annotations

from pathlib import Path

import yaml

from flows.deployments import SPECS, TZ, deployments
from flows.registry import FLOWS

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_declares_every_served_deployment_alike() -> None:
    declared = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    assert set(declared) == {s.name for s in SPECS} == set(FLOWS)
    for spec in SPECS:
        entry = declared[spec.name]
        module = spec.flow.fn.__module__.replace(".", "/")
        assert entry["entrypoint"] == f"{module}.py:{spec.flow.fn.__name__}"
        assert entry["schedules"] == [{"cron": spec.cron, "timezone": TZ}]
        assert entry["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
        assert tuple(entry["tags"]) == spec.tags and entry["description"] == spec.description
        assert FLOWS[spec.name] is spec.flow


def test_served_deployments_carry_schedule_limit_and_tags() -> None:
    served = {d.name: d for d in deployments()}
    for spec in SPECS:
        d = served[spec.name]
        assert d.schedules[0].schedule.cron == spec.cron and d.schedules[0].schedule.timezone == TZ
        assert d.concurrency_limit == 1 and d.concurrency_options.collision_strategy.value == "CANCEL_NEW"
        assert tuple(d.tags) == spec.tags
