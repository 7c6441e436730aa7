"""``caseflow serve``: a local Prefect server with its UI, the API, and every deployment, in one command."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request

from core.settings import DATA_DIR, get_settings

log = logging.getLogger("caseflow.serve")

PREFECT_PORT = int(os.environ.get("CASEFLOW_PREFECT_PORT", "4200"))


def _wait_for(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback only)
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def _start_prefect_server() -> subprocess.Popen[bytes]:
    """The embedded setup's Prefect server (SQLite under data/prefect), UI on loopback."""
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(DATA_DIR / "prefect"))
    env["PREFECT_SERVER_API_HOST"] = "127.0.0.1"
    env["PREFECT_SERVER_API_PORT"] = str(PREFECT_PORT)
    # an embedded server on a service-centre network has no internet: no telemetry, no error line for it
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    prefect = os.path.join(os.path.dirname(sys.executable), "prefect")
    proc = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(PREFECT_PORT)], env=env)
    api = f"http://127.0.0.1:{PREFECT_PORT}/api"
    if not _wait_for(api + "/health", 90):
        proc.terminate()
        raise RuntimeError("the Prefect server did not come up within 90 s")
    os.environ["PREFECT_API_URL"] = api
    return proc


def _start_api() -> threading.Thread:
    import uvicorn

    settings = get_settings()
    config = uvicorn.Config("api.main:app", host=settings.api_host, port=settings.api_port, log_level="info")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="caseflow-api", daemon=True)
    thread.start()
    return thread


def drop_stale_scheduled_runs(api: str, *, now: str | None = None) -> int:
    """Delete the scheduled runs a stopped ``caseflow serve`` left behind, whose time has passed.

    Every flow is idempotent for its ``as_of`` and the sweeps catch up on everything due, so the next
    scheduled run does their work; left in place they would all start at once on restart (dozens of late
    runs of a once-a-minute flow), crowding the embedded server's SQLite database.
    """
    import httpx

    from core import clock

    moment = now or clock.now().isoformat()
    body = {
        "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}, "expected_start_time": {"before_": moment}},
        "limit": 200, "offset": 0,
    }
    with httpx.Client(base_url=api, timeout=30) as client:
        stale: list[str] = []
        while True:
            runs = client.post("/flow_runs/filter", json={**body, "offset": len(stale)}).raise_for_status().json()
            if not runs:
                break
            stale.extend(run["id"] for run in runs)
        for run_id in stale:
            resp = client.delete(f"/flow_runs/{run_id}")
            if resp.status_code != 404:  # already gone: what we wanted
                resp.raise_for_status()
    return len(stale)


def serve(*, with_prefect_server: bool = True) -> int:
    from core.calendar import get_calendar
    from core.migrate import upgrade

    logging.basicConfig(level=logging.INFO)
    upgrade()
    get_calendar()  # seed the working-day calendar on a fresh database
    settings = get_settings()
    proc = _start_prefect_server() if with_prefect_server and not os.environ.get("PREFECT_API_URL") else None
    try:
        _start_api()
        print(f"Caseflow API:   http://{settings.api_host}:{settings.api_port}/docs", flush=True)
        print(f"Prefect UI:     {os.environ.get('PREFECT_API_URL', '').removesuffix('/api')}", flush=True)
        print(f"Database:       {settings.database_url}", flush=True)
        from prefect import serve as prefect_serve

        from flows.deployments import deployments

        dropped = drop_stale_scheduled_runs(os.environ["PREFECT_API_URL"])
        if dropped:
            print(f"Dropped {dropped} scheduled runs left late by the last stop (the next runs catch up)", flush=True)
        prefect_serve(*deployments(), print_starting_message=True)
    except KeyboardInterrupt:
        pass
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    return 0
