"""The FastAPI application: a thin layer that reads cases and sends events through the engine."""

from __future__ import annotations

from fastapi import FastAPI

from api import errors
from api.routes import claims, complaints, policies, queue, recordings, reports, revisits, system, work_orders


def create_app() -> FastAPI:
    app = FastAPI(
        title="Caseflow",
        version="0.1.0",
        description="Revisits (新契约回访, 理赔回访), branch work orders and complaints of a life insurer's service centre.",
    )
    errors.install(app)
    app.include_router(system.router)
    app.include_router(policies.router)
    app.include_router(claims.router)
    app.include_router(revisits.router)
    app.include_router(work_orders.router)
    app.include_router(complaints.router)
    app.include_router(queue.router)
    app.include_router(reports.router)
    app.include_router(recordings.router)
    return app


app = create_app()
