"""Receiving feeds part by part, on SQLite and PostgreSQL: committed as they arrive, read back
whole, nothing left behind by a refused, cut off or abandoned upload, multipart streamed."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from shop.partners.uploads import (
    ABANDONED_AFTER_MS,
    MAX_FORM_PARTS,
    PART_SIZE,
    FeedReceiver,
    MultipartFile,
    _DeclarationScan,
)

PROBLEM = "application/problem+json"


def csv_feed(records: int) -> bytes:
    rows = [b"sku,title,price,currency,stock"]
    rows += [
        b"U-%07d,Upload product %d,%d.50,EUR,%d" % (i, i, 1 + i % 90, i % 7) for i in range(records)
    ]
    return b"\n".join(rows) + b"\n"


async def rows_left(ps: object, partner_id: int) -> tuple[int, int]:
    shop = ps.shop  # type: ignore[attr-defined]
    feeds = await shop.count("SELECT count(*) FROM feeds WHERE partner_id = :p", p=partner_id)
    parts = await shop.count(
        "SELECT count(*) FROM feed_parts JOIN feeds ON feeds.id = feed_parts.feed_id"
        " WHERE feeds.partner_id = :p",
        p=partner_id,
    )
    return feeds, parts


def finish_args(**overrides: object) -> dict[str, Any]:
    values: dict[str, Any] = {
        "content_type": "text/csv",
        "filename": "feed.csv",
        "mode": "delta",
        "dry_run": False,
        "max_attempts": 3,
        "source": "test",
        "request_id": None,
    }
    values.update(overrides)
    return values


@pytest.mark.anyio
async def test_a_feed_larger_than_a_part_is_committed_in_parts_and_read_back_whole(partner_shop):
    ps = await partner_shop()
    body = csv_feed(40_000)
    assert len(body) > PART_SIZE

    async def chunks() -> AsyncIterator[bytes]:  # as a server reads them off the socket
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    answer = await ps.client.post(
        "/partner/feeds",
        params={"mode": "full"},
        content=chunks(),
        headers={**ps.auth, "Content-Type": "text/csv"},
    )
    assert 202 == answer.status_code, answer.text
    parts = await ps.shop.count(
        "SELECT count(*) FROM feed_parts WHERE feed_id = (SELECT id FROM feeds WHERE job_id = :j)",
        j=answer.json()["job_id"],
    )
    assert parts >= 2
    stored = await ps.shop.count(
        "SELECT sum(size) FROM feeds WHERE job_id = :j", j=answer.json()["job_id"]
    )
    assert len(body) == stored
    await ps.run_jobs()
    job = (await ps.client.get(answer.headers["location"], headers=ps.auth)).json()
    assert ("succeeded", 40_000, 0) == (job["status"], job["accepted"], job["rejected"])
    assert 40_000 == await ps.shop.count(
        "SELECT count(*) FROM partner_products WHERE partner_id = :p", p=ps.partner_id
    )


@pytest.mark.anyio
async def test_the_parts_hold_exactly_the_bytes_sent(partner_shop):
    ps = await partner_shop()
    receiver = FeedReceiver(ps.services.queue, ps.partner_id, limit=10**6, part_size=1000)
    body = csv_feed(300)
    for start in range(0, len(body), 333):
        await receiver.write(body[start : start + 333])
    job_id, new = await receiver.finish(**finish_args())
    assert new
    async with ps.services.queue.engine.connect() as conn:
        feed = (
            await conn.execute(
                text("SELECT id, checksum FROM feeds WHERE job_id = :j"), {"j": job_id}
            )
        ).one()
        data = await conn.execute(
            text("SELECT data FROM feed_parts WHERE feed_id = :f ORDER BY seq"), {"f": feed.id}
        )
        pieces = [bytes(row.data) for row in data]
    assert body == b"".join(pieces)
    assert all(len(piece) >= 1000 for piece in pieces[:-1])
    assert hashlib.sha256(body).hexdigest() == feed.checksum


@pytest.mark.anyio
async def test_the_same_feed_sent_twice_is_one_job_and_one_copy(partner_shop):
    ps = await partner_shop()
    body = csv_feed(200)
    answers = []
    for _ in range(2):
        receiver = FeedReceiver(ps.services.queue, ps.partner_id, limit=10**6, part_size=1000)
        await receiver.write(body)
        answers.append(await receiver.finish(**finish_args()))
    assert answers[0][0] == answers[1][0]
    assert (True, False) == (answers[0][1], answers[1][1])
    feeds, parts = await rows_left(ps, ps.partner_id)
    assert 1 == feeds
    assert parts >= 1


@pytest.mark.anyio
async def test_an_upload_over_the_limit_midway_is_refused_and_leaves_nothing(partner_shop):
    ps = await partner_shop(SHOP_FEED_MAX_BYTES=PART_SIZE + PART_SIZE // 2)
    body = csv_feed(40_000)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the size shows midway
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    async def form() -> AsyncIterator[bytes]:
        yield (
            b'--b0und4ry\r\nContent-Disposition: form-data; name="file"; filename="f.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\n"
        )
        async for chunk in chunks():
            yield chunk
        yield b"\r\n--b0und4ry--\r\n"

    for multipart in (False, True):
        if multipart:
            content, kind = form(), "multipart/form-data; boundary=b0und4ry"
        else:
            content, kind = chunks(), "text/csv"
        answer = await ps.client.post(
            "/partner/feeds", content=content, headers={**ps.auth, "Content-Type": kind}
        )
        assert 413 == answer.status_code, answer.text
        assert PROBLEM == answer.headers["content-type"]
        assert (0, 0) == await rows_left(ps, ps.partner_id)


@pytest.mark.anyio
async def test_a_cut_off_upload_leaves_nothing(partner_shop):
    ps = await partner_shop()
    body = csv_feed(40_000)
    chunks = [body[start : start + 64 * 1024] for start in range(0, PART_SIZE + 10, 64 * 1024)]
    messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
    messages.append({"type": "http.disconnect"})
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/partner/feeds",
        "raw_path": b"/partner/feeds",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"shop.test"),
            (b"authorization", ps.auth["Authorization"].encode()),
            (b"content-type", b"text/csv"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("shop.test", 80),
    }
    with contextlib.suppress(Exception):  # the client is gone: nobody reads an answer
        await ps.shop.app(scope, receive, send)
    assert not messages, "the upload was read to the disconnect"
    assert (0, 0) == await rows_left(ps, ps.partner_id)


@pytest.mark.anyio
async def test_a_refused_format_deletes_the_parts_already_written(partner_shop):
    ps = await partner_shop()
    receiver = FeedReceiver(ps.services.queue, ps.partner_id, limit=10**6, part_size=100)
    await receiver.write(b"\x00\x01" * 500)
    assert (1, 1) == await rows_left(ps, ps.partner_id)
    with pytest.raises(Exception, match="not supported"):
        await receiver.finish(**finish_args(content_type="application/x-thing", filename=None))
    assert (0, 0) == await rows_left(ps, ps.partner_id)


@pytest.mark.anyio
async def test_an_abandoned_upload_is_swept_by_a_later_one(partner_shop):
    ps = await partner_shop()
    left = FeedReceiver(ps.services.queue, ps.partner_id, limit=10**6, part_size=100)
    await left.write(csv_feed(20))
    recent = FeedReceiver(ps.services.queue, ps.partner_id, limit=10**6, part_size=100)
    await recent.write(csv_feed(21))
    assert (2, 2) == await rows_left(ps, ps.partner_id)
    async with ps.services.queue.engine.begin() as conn:
        await conn.execute(
            text("UPDATE feeds SET created_at = created_at - :age WHERE id = :f"),
            {"age": ABANDONED_AFTER_MS + 1, "f": left.feed_id},
        )
    done = FeedReceiver(ps.services.queue, ps.partner_id, limit=10**6)
    await done.write(csv_feed(3))
    await done.finish(**finish_args())
    # The old one is gone; the one still in progress and the finished one stay.
    assert 2 == (await rows_left(ps, ps.partner_id))[0]
    assert 0 == await ps.shop.count("SELECT count(*) FROM feeds WHERE id = :f", f=left.feed_id)
    # The swept upload, if its sender comes back, is told to send it again (408), not a 500.
    with pytest.raises(Exception, match="took too long"):
        await left.finish(**finish_args())


@pytest.mark.anyio
async def test_a_feed_stored_whole_by_an_older_shop_is_still_read(partner_shop):
    ps = await partner_shop()
    body = csv_feed(5)
    answer = await ps.upload(body)
    async with ps.services.queue.engine.begin() as conn:
        feed_id = await conn.scalar(
            text("SELECT id FROM feeds WHERE job_id = :j"), {"j": answer.json()["job_id"]}
        )
        await conn.execute(text("DELETE FROM feed_parts WHERE feed_id = :f"), {"f": feed_id})
        await conn.execute(
            text("UPDATE feeds SET body = :b WHERE id = :f"), {"b": body, "f": feed_id}
        )
    await ps.run_jobs()
    job = (await ps.client.get(answer.headers["location"], headers=ps.auth)).json()
    assert ("succeeded", 5) == (job["status"], job["accepted"])


def multipart(*fields: tuple[str, str | None, bytes], boundary: str = "XyZ") -> bytes:
    out = b""
    for name, filename, data in fields:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: text/csv\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


@pytest.mark.anyio
async def test_multipart_takes_the_file_field_and_skips_the_others(partner_shop):
    ps = await partner_shop()
    body = multipart(
        ("note", None, b"x" * 10_000),
        ("file", "mine.csv", csv_feed(4)),
        ("after", None, b"y"),
    )
    answer = await ps.client.post(
        "/partner/feeds",
        content=body,
        headers={**ps.auth, "Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    assert 202 == answer.status_code, answer.text
    assert 1 == await ps.shop.count(
        "SELECT count(*) FROM feeds WHERE job_id = :j AND filename = 'mine.csv'"
        " AND content_type = 'text/csv' AND size = :s",
        j=answer.json()["job_id"],
        s=len(csv_feed(4)),
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "kind", "detail"),
    [
        (multipart(("other", None, b"1")), "multipart/form-data; boundary=XyZ", "field 'file'"),
        (
            multipart(("file", "a.csv", b"sku\n"), ("file", "b.csv", b"sku\n")),
            "multipart/form-data; boundary=XyZ",
            "more than one",
        ),
        (
            multipart(*[("f", None, b"1")] * (MAX_FORM_PARTS + 1)),
            "multipart/form-data; boundary=XyZ",
            f"more than {MAX_FORM_PARTS} parts",
        ),
        (b"--XyZ\r\nno headers end", "multipart/form-data; boundary=XyZ", "cannot be read"),
        (b"garbage", "multipart/form-data", "no boundary"),
    ],
)
async def test_a_bad_multipart_body_is_a_clear_422(partner_shop, body, kind, detail):
    ps = await partner_shop()
    answer = await ps.client.post(
        "/partner/feeds", content=body, headers={**ps.auth, "Content-Type": kind}
    )
    assert 422 == answer.status_code, answer.text
    assert detail in answer.json()["detail"]
    assert (0, 0) == await rows_left(ps, ps.partner_id)


def test_the_multipart_reader_streams_the_file_in_any_chunking():
    data = csv_feed(50)
    body = multipart(("a", None, b"1" * 300), ("file", "f.csv", data), ("b", None, b"2"))
    for size in (1, 7, 64, len(body)):
        form = MultipartFile("multipart/form-data; boundary=XyZ")
        got = b""
        for start in range(0, len(body), size):
            form.write(body[start : start + size])
            got += form.take()
        form.finish()
        assert (data, "f.csv", "text/csv") == (got, form.filename, form.content_type)


def _declares(data: bytes) -> bool:
    return b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data


@given(
    st.lists(
        st.sampled_from(
            [
                b"<!",
                b"DOCTYPE",
                b"doctype",
                b"DocType",
                b"ENTITY",
                b"entity",
                b"<",
                b"!",
                b"x",
                b"<!-- c -->",
            ]
        ),
        max_size=12,
    ),
    st.lists(st.integers(1, 40), max_size=8),
)
def test_the_declaration_scan_agrees_with_a_whole_body_search_for_any_chunking(pieces, cuts):
    data = b"".join(pieces)
    scan = _DeclarationScan()
    start = 0
    for cut in cuts:
        scan.update(data[start : start + cut])
        start += cut
    scan.update(data[start:])
    assert _declares(data) == scan.found


@given(st.text(alphabet=st.sampled_from("ab\\\t\n\r é€\x00"), max_size=30))
def test_a_copy_field_is_escaped_exactly_as_a_full_translate_would(value):
    from shop.partners.ingest import _COPY_ESCAPES, _copy_field

    assert value.translate(_COPY_ESCAPES) == _copy_field(value)


@pytest.mark.anyio
async def test_the_ingest_batch_defaults_to_the_database(partner_shop):
    ps = await partner_shop(SHOP_INGEST_BATCH=None)
    expected = 20_000 if ps.services.queue.engine.dialect.name == "postgresql" else 5_000
    assert expected == ps.services.ingest_batch


@given(
    st.integers(1, 50_000),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.one_of(st.none(), st.integers(1, 10**6)),
)
def test_ingest_batches_stay_within_their_bounds(size, lines, done, line):
    from shop.partners.ingest import MIN_BATCH, _Batches

    batches = _Batches(iter(()), 1, 1, form="count")
    batches.processed, batches.last_line = done, line
    got = batches.next_size(size, lines)
    assert min(size, MIN_BATCH) <= got <= size
    if not done or not line or lines <= done:
        assert size == got


def test_ingest_batches_shrink_near_the_end_of_the_feed_only():
    from shop.partners.ingest import MIN_BATCH, _Batches

    batches = _Batches(iter(()), 1, 1, form="count")
    # One record a line, 100k lines: full batches while many records are left...
    batches.processed, batches.last_line = 20_000, 20_001
    assert 20_000 == batches.next_size(20_000, 100_001)
    # ...then half of what is left, down to the floor.
    batches.processed, batches.last_line = 80_000, 80_001
    assert 9_999 <= batches.next_size(20_000, 100_001) <= 10_000
    batches.processed, batches.last_line = 99_000, 99_001
    assert MIN_BATCH == batches.next_size(20_000, 100_001)
    # A JSON array on one line gives no estimate: the batches keep their size.
    batches.processed, batches.last_line = 20_000, 1
    assert 20_000 == batches.next_size(20_000, 1)
