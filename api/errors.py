"""Every error crossing the API is problem+json (RFC 9457): type, title, status, detail."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from statemachines.engine import CaseNotFound, EventNotAllowed, Rejected, StaleVersion, UnknownEvent

PROBLEM = "application/problem+json"
TYPE_BASE = "https://caseflow.example/problems/"


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, kind: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        self.kind = kind or title.lower().replace(" ", "-")


def problem_response(status: int, title: str, detail: str, kind: str, **extra: Any) -> JSONResponse:
    body = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        errors.append({"field": loc, "message": err.get("msg", "")})
    text = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
    return text or "invalid request", errors


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.kind, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        text, errors = _validation_detail(exc)
        return problem_response(422, "Invalid request", text, "invalid-request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed"}.get(
            exc.status_code, "Error"
        )
        resp = problem_response(exc.status_code, title, str(exc.detail), title.lower().replace(" ", "-"))
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp

    @app.exception_handler(CaseNotFound)
    async def _not_found(_: Request, exc: CaseNotFound) -> JSONResponse:
        return problem_response(404, "Not found", str(exc), "not-found")

    @app.exception_handler(UnknownEvent)
    async def _unknown_event(_: Request, exc: UnknownEvent) -> JSONResponse:
        return problem_response(404, "Unknown event", str(exc), "unknown-event", events=exc.events)

    @app.exception_handler(StaleVersion)
    async def _stale(_: Request, exc: StaleVersion) -> JSONResponse:
        return problem_response(409, "Stale version", str(exc), "stale-version", current_version=exc.current)

    @app.exception_handler(EventNotAllowed)
    async def _not_allowed(_: Request, exc: EventNotAllowed) -> JSONResponse:
        return problem_response(
            409, "Event not allowed", str(exc), "event-not-allowed", state=exc.state, allowed_events=exc.allowed
        )

    @app.exception_handler(Rejected)
    async def _rejected(_: Request, exc: Rejected) -> JSONResponse:
        return problem_response(422, "Rejected", exc.reason, "rejected")

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:  # a 500 is a bug, but still problem+json
        return problem_response(500, "Internal error", type(exc).__name__, "internal-error")
