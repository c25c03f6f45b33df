"""The partner commands of ``shop``: partners, audit, jobs (in process, on SQLite)."""

from __future__ import annotations

import json

import pytest

from shop.cli import main


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    for name in ("SHOP_CALLBACK_ALLOW", "SHOP_SMTP_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")

    def run(*argv: str) -> tuple[int, str, str]:
        status = main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_partners_create_list_rotate_revoke(cli):
    status, out, _ = cli("partners", "create", "Acme", "--email", "feeds@acme.example", "--json")
    assert 0 == status
    made = json.loads(out)
    assert {"id", "api_key", "webhook_secret"} == set(made)
    assert made["api_key"].startswith("ck_live_") and made["webhook_secret"].startswith("whsec_")
    prefix = made["api_key"].split("_")[2]
    status, out, _ = cli("partners", "list", "--json")
    [listed] = json.loads(out)
    assert ("Acme", "active", [prefix]) == (listed["name"], listed["status"], listed["keys"])
    assert made["api_key"] not in out and made["webhook_secret"] not in out
    status, out, _ = cli("partners", "rotate", str(made["id"]), "--grace", "60", "--json")
    assert 0 == status
    rotated = json.loads(out)["api_key"]
    _, out, _ = cli("partners", "list", "--json")
    assert [prefix, rotated.split("_")[2]] == json.loads(out)[0]["keys"]
    assert 0 == cli("partners", "revoke", str(made["id"]))[0]
    _, out, _ = cli("partners", "list", "--json")
    assert ("revoked", []) == (json.loads(out)[0]["status"], json.loads(out)[0]["keys"])
    status, _, err = cli("partners", "revoke", str(made["id"]))
    assert 2 == status and "no active partner" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--email", "not-an-address"], "--email"),
        (["--email", "a@b.example", "--callback-url", "ftp://x.example/"], "--callback-url"),
        (["--email", "a@b.example", "--callback-url", "http://127.0.0.1/hook"], "loopback"),
        (["--email", "a@b.example", "--callback-url", "http://169.254.169.254/"], "link-local"),
        (["--email", "a@b.example", "--callback-url", "http://[::1]/"], "private"),
    ],
)
def test_partners_create_refuses_bad_emails_and_unsafe_callbacks(cli, argv, message):
    status, _, err = cli("partners", "create", "Bad", *argv)
    assert 2 == status
    assert message in err


def test_a_duplicate_name_is_refused(cli):
    assert 0 == cli("partners", "create", "Twice", "--email", "a@b.example")[0]
    status, _, err = cli("partners", "create", "Twice", "--email", "a@b.example")
    assert 2 == status and "already exists" in err


def test_audit_tail_and_jobs_commands_on_an_empty_trail(cli):
    assert (0, "") == cli("audit", "tail", "--json")[:2]
    assert (0, "") == cli("jobs", "failed")[:2]
    status, _, err = cli("jobs", "retry", "12345")
    assert 2 == status and "not failed" in err


def test_audit_tail_prints_attempts_without_secrets(cli, tmp_path):
    import asyncio

    from shop.db import make_engine
    from shop.partners.audit import AuditLog, entry_now

    assert 0 == cli("db", "upgrade")[0]

    async def record() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", pool_size=1)
        try:
            audit = AuditLog(engine)
            for outcome in ("missing", "ok"):
                audit.record(
                    entry_now(
                        source="203.0.113.9",
                        key_prefix="abcdefghijkl" if outcome == "ok" else None,
                        partner_id=1 if outcome == "ok" else None,
                        method="POST",
                        route="/partner/feeds",
                        outcome=outcome,
                        request_id="r1",
                    )
                )
            await audit.flush()
        finally:
            await engine.dispose()

    asyncio.run(record())
    status, out, _ = cli("audit", "tail", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert ["missing", "ok"] == [r["outcome"] for r in rows]
    assert {"at", "source", "key_prefix", "partner_id", "method", "route", "outcome"} <= set(
        rows[0]
    )
    assert "203.0.113.9" == rows[1]["source"]
    status, out, _ = cli("audit", "tail")
    assert 0 == status
    assert 2 == len(out.splitlines()) and "/partner/feeds" in out
