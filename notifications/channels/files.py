"""The default channel: one file per message under ``settings.outbox_folder/<channel>/``, and a log line.

Idempotent by construction: the file is named after the outbox id and created atomically with
``os.link`` (fails if the name exists), so a resend after a crash finds it and delivers nothing new.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from notifications.recipients import Address
from notifications.render import Rendered

log = logging.getLogger("caseflow.notifications")


class FileChannel:
    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = Path(folder) / name

    def path_for(self, key: str, rendered: Rendered) -> Path:
        return self.folder / f"{key}.{'html' if rendered.is_html else 'txt'}"

    def delivered(self, key: str) -> list[Path]:
        return sorted(self.folder.glob(f"{key}.*"))

    def send(self, *, key: str, address: Address, rendered: Rendered) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        existing = self.delivered(key)
        if existing:
            return str(existing[0])  # delivered before a crash: the key says so
        target = self.path_for(key, rendered)
        if rendered.is_html:
            # the printable page stays a valid HTML file; the envelope goes in a comment
            head = f"<!-- outbox {key} to: {address.name or ''} {address.value} -->\n"
        else:
            head = f"To: {address.value}\nSubject: {rendered.subject}\nOutbox-Id: {key}\n\n"
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(head + rendered.body)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, target)  # atomic create-if-absent
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
        log.info("%s → %s (%s): %s", self.name, address.value, key, rendered.subject or rendered.body[:60])
        return str(target)
