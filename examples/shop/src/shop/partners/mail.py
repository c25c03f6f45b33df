"""Mail to partners when a feed job ends: over SMTP (``SHOP_SMTP_URL``) or into ``var/outbox``.

The mail is its own job, enqueued in the transaction that ends the feed job, so the feed's
outcome never waits on the mail server: SMTP down, the feed job has already succeeded, the mail
job is retried with backoff and, if it never goes, the failure is written on the feed job.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shop.jobs.queue import Job, enqueue
from shop.jobs.tables import jobs
from shop.jobs.worker import JobContext, PermanentJobError
from shop.partners.tables import partners

__all__ = ["MailSender", "build_message", "enqueue_failure_mail", "record_mail_outcome"]


def build_message(
    *, to: str, partner: str, job: Any, public_url: str, sender: str = "shop@localhost"
) -> EmailMessage:
    """The end-of-job mail: counts and a link to the job."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = (
        f"Feed job {job.id} {job.state}: {job.accepted} accepted, {job.rejected} rejected"
    )
    message["Message-ID"] = make_msgid(domain="shop.localhost")
    link = f"{public_url.rstrip('/')}/partner/jobs/{job.id}"
    lines = [
        f"Hello {partner},",
        "",
        f"Your feed job {job.id} has {job.state}.",
        "",
        f"  records:  {job.records}",
        f"  accepted: {job.accepted}",
        f"  rejected: {job.rejected}",
        "",
        f"Details and the list of errors: {link}",
        f"(or open {public_url.rstrip('/')}/partner/upload and look the job up).",
    ]
    if job.state == "failed" and job.last_error:
        lines[3:3] = ["", f"Reason: {job.last_error[:300]}"]
    message.set_content("\n".join(lines) + "\n")
    return message


async def record_mail_outcome(conn: AsyncConnection, job_id: int, outcome: str) -> None:
    """Write the mail's outcome (``sent``, ``written``, ``failed``) on the feed job."""
    current = await conn.scalar(select(jobs.c.result).where(jobs.c.id == job_id))
    result = json.loads(current) if current else {}
    result["mail"] = outcome
    await conn.execute(update(jobs).where(jobs.c.id == job_id).values(result=json.dumps(result)))


class MailSender:
    """Sends (or writes) the end-of-job mails."""

    def __init__(self, smtp_url: str | None, outbox: Path, public_url: str) -> None:
        self.smtp_url = smtp_url
        self.outbox = outbox
        self.public_url = public_url

    def _send(self, message: EmailMessage) -> str:
        if not self.smtp_url:
            self.outbox.mkdir(parents=True, exist_ok=True)
            name = message["Message-ID"].strip("<>").replace("@", "_").replace("/", "_")
            (self.outbox / f"{name}.eml").write_bytes(bytes(message))
            return "written"
        parts = urlsplit(self.smtp_url)
        with smtplib.SMTP(parts.hostname or "localhost", parts.port or 25, timeout=10) as smtp:
            if parts.username:
                smtp.login(parts.username, parts.password or "")
            smtp.send_message(message)
        return "sent"

    async def run(self, ctx: JobContext) -> None:
        """The ``send_mail`` job."""
        job_id = int(ctx.job.payload["job_id"])
        async with ctx.queue.engine.connect() as conn:
            job = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).first()
            partner = (
                await conn.execute(select(partners).where(partners.c.id == ctx.job.partner_id))
            ).first()
        if job is None or partner is None:
            raise PermanentJobError("the job or partner of this mail is gone")
        message = build_message(
            to=partner.email, partner=partner.name, job=job, public_url=self.public_url
        )
        outcome = await asyncio.to_thread(self._send, message)

        async def done(conn: AsyncConnection) -> None:
            await record_mail_outcome(conn, job_id, outcome)
            await ctx.succeed(conn, {"mail": outcome})

        await ctx.queue.write(done)

    @staticmethod
    async def on_failed(conn: AsyncConnection, job: Job, _reason: str) -> None:
        """Write the mail's failure on the feed job."""
        await record_mail_outcome(conn, int(job.payload["job_id"]), "failed")


async def enqueue_failure_mail(conn: AsyncConnection, job: Job, _reason: str) -> None:
    """When a feed job fails, its partner is told too."""
    await enqueue(
        conn,
        "send_mail",
        {"job_id": job.id},
        max_attempts=job.max_attempts,
        partner_id=job.partner_id,
        dedup_key=f"mail:{job.id}:failed",
    )
