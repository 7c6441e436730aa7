"""``claims-revisit-intake`` (SPEC §5, daily 06:30): the claims feed → claim revisits and care touches.

The claims drop folder is ``<drop_folder>/<settings.claims_drop_subfolder>`` (default ``inbox/claims/``):
every ``.csv`` / ``.json`` file there is imported as claims (the §4.1 ``POST /claims`` shape; CSV with
dotted headers such as ``claimant.name``) and moved to ``done/`` (``failed/`` when unreadable). A
sub-folder, not a file-name pattern, because the policy intake reads every CSV/JSON file at the top of
the drop folder and would take a claims file for policies.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow

from core.settings import get_settings
from domain.claim_import import import_claims, read_claim_file
from domain.claim_intake import claims_revisit_intake
from flows.common import flow_ctx, in_session, logger, publish_markdown, publish_table, read_drop_folder

NAME = "claims-revisit-intake"


def claims_folder() -> Path:
    s = get_settings()
    return Path(s.drop_folder) / s.claims_drop_subfolder


def read_claims_folder(*, folder: Path, actor: str, now: datetime) -> dict[str, Any]:
    """Import every CSV/JSON file of the claims drop folder, then move it to done/ (or failed/)."""
    return read_drop_folder(folder=folder, read_file=read_claim_file, import_records=import_claims, key="claim_no",
                            actor=actor, now=now)


@flow(name=NAME, description="Read the claims feed; closed claims → claim revisits and care touches.")
def claims_revisit_intake_flow(as_of: datetime | None = None) -> dict[str, Any]:
    ctx = flow_ctx(as_of, NAME)
    files = read_claims_folder(folder=claims_folder(), actor=ctx.actor, now=ctx.now)
    result = in_session(claims_revisit_intake, ctx=ctx)
    summary = {"as_of": ctx.now.isoformat(), "files": files, **result.as_dict()}
    logger().info("claims-revisit-intake: %s", summary)
    publish_table(NAME, [result.as_dict()], "Claim revisits and care touches created")
    publish_markdown(
        f"{NAME}-summary",
        f"# Claims revisit intake {ctx.now:%Y-%m-%d %H:%M} UTC\n\n"
        f"- claim files read: {files['files']} (claims created {files['created']}, updated {files['updated']}, "
        f"rejected records {files['rejected']}, unreadable files {len(files['failed'])})\n"
        f"- claim revisits created: {result.closed_revisits} after closing, {result.stage_revisits} at a stage\n"
        f"- large claims (adviser owner): {result.large}\n"
        f"- care touches scheduled: {result.touches} (claim_care SMS queued: {result.messages})\n"
        f"- claims waiting for their policy: {result.waiting_for_policy}\n",
        "Claims revisit intake summary",
    )
    return summary
