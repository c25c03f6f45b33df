"""``commerce-kit feed validate``: reports, exit statuses, refusals, progress, no tracebacks."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import commerce_kit.feeds
import commerce_kit.validation
from commerce_kit import __version__
from commerce_kit._cli import (
    COLUMN_PRESETS,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_REJECTED,
    main,
)
from tests.vectors import VECTORS, vectors_dir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cli"


def fixture(name: str) -> str:
    return str(FIXTURES / name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


# -- reports -----------------------------------------------------------------------------------


def test_a_valid_feed_exits_0_with_its_counts(capsys: pytest.CaptureFixture[str]) -> None:
    path = fixture("valid.csv")
    assert (EXIT_OK, f"{path} (csv): 2 records, 2 accepted, all valid\n", "") == run(
        capsys, "feed", "validate", path
    )


def test_rejected_records_exit_1_with_one_line_per_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = fixture("rejected.csv")
    status, out, err = run(capsys, "feed", "validate", path)
    assert (EXIT_REJECTED, "") == (status, err)
    assert [
        f"{path} (csv): 4 records, 1 accepted, 3 rejected",
        "line 3, price: must be greater than 0, got '-3.5'",
        "line 4, sku: is required",
        "line 5, title: is required",
        "line 5, currency: must be an active ISO 4217 currency code, got 'XXX'",
    ] == out.splitlines()


def test_the_error_list_is_capped_with_a_count_of_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "feed", "validate", fixture("rejected.csv"), "--max-errors", "1")
    assert (
        EXIT_REJECTED,
        ["line 3, price: must be greater than 0, got '-3.5'", "... and 3 more"],
    ) == (
        status,
        out.splitlines()[1:],
    )


def test_max_errors_0_lists_every_error(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "feed", "validate", fixture("rejected.csv"), "--max-errors", "0")
    assert (5, False) == (len(out.splitlines()), "more" in out)


def test_json_report_has_the_documented_fields(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "feed", "validate", fixture("rejected.csv"), "--json")
    report = json.loads(out)
    assert EXIT_REJECTED == status
    assert {
        "format": "csv",
        "columns": None,
        "unmatched_columns": None,
        "records": 4,
        "accepted": 1,
        "rejected": 3,
        "error_count": 4,
        "skipped": 0,
        "skipped_rows": [],
    } == {k: v for k, v in report.items() if k != "errors"}
    assert {
        "line": 3,
        "index": 2,
        "field": "price",
        "code": "price.not_positive",
        "message": "line 3, price: must be greater than 0, got '-3.5'",
    } == report["errors"][0]
    keys = {"line", "index", "field", "code", "message"}
    assert [keys] * 4 == [set(error) for error in report["errors"]]


def test_json_of_a_valid_feed_lists_no_errors(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "feed", "validate", fixture("valid.csv"), "--json")
    assert (EXIT_OK, [], 2) == (status, json.loads(out)["errors"], json.loads(out)["accepted"])


def test_the_format_can_be_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "feed.txt"
    path.write_bytes((FIXTURES / "valid.csv").read_bytes())
    status, out, _ = run(capsys, "feed", "validate", str(path), "--format", "csv")
    assert (EXIT_OK, f"{path} (csv): 2 records, 2 accepted, all valid\n") == (status, out)


def test_a_default_currency_completes_feeds_without_one(capsys: pytest.CaptureFixture[str]) -> None:
    path = fixture("no_currency.csv")
    without, _, _ = run(capsys, "feed", "validate", path)
    status, out, _ = run(capsys, "feed", "validate", path, "--currency", "USD")
    assert (EXIT_REJECTED, EXIT_OK, "all valid") == (without, status, out.strip()[-9:])


def test_a_feed_with_no_records_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "none.json"
    path.write_bytes(b"[]")
    assert (EXIT_OK, f"{path} (json): no records found\n") == run(
        capsys, "feed", "validate", str(path)
    )[:2]


EMPTY = "the feed is empty: there is nothing to validate"


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".ndjson", ".xml", ".dat"])
@pytest.mark.parametrize("content", [b"", b" \n\t\r\n"], ids=["0-bytes", "blank"])
def test_an_empty_file_is_refused_in_one_line_whatever_its_suffix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str, content: bytes
) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(content)
    assert f"commerce-kit: {path}: {EMPTY}\n" == refused(capsys, str(path))


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"], ids=["0-bytes", "blank"])
@pytest.mark.parametrize("fmt", [[], ["--format", "json"]], ids=["no-format", "json"])
def test_empty_standard_input_is_refused_the_same_way(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: bytes,
    fmt: list[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(content)))
    assert f"commerce-kit: <stdin>: {EMPTY}\n" == refused(capsys, "-", *fmt)


def test_standard_input_that_cannot_be_read_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Failing(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(Failing())))
    assert "commerce-kit: <stdin>: cannot be read (Input/output error)\n" == refused(capsys, "-")


def test_standard_input_read_ahead_to_look_for_content_is_not_lost(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Longer than the bytes read ahead, and starting with blank space.
    rows = "".join(f"SKU-{n},Mug {n},1.00,USD\n" for n in range(4_000))
    feed = "\n" * 70_000 + "sku,title,price,currency\n" + rows
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(feed.encode())))
    status, out, _ = run(capsys, "feed", "validate", "-", "--format", "csv")
    assert (EXIT_OK, "<stdin> (csv): 4000 records, 4000 accepted, all valid\n") == (status, out)


def test_standard_input_is_read_for_a_dash(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO((FIXTURES / "rejected.csv").read_bytes()))
    monkeypatch.setattr(sys, "stdin", stdin)
    status, out, _ = run(capsys, "feed", "validate", "-")
    assert (EXIT_REJECTED, "<stdin> (csv): 4 records, 1 accepted, 3 rejected") == (
        status,
        out.splitlines()[0],
    )


def test_a_closed_standard_input_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    assert (EXIT_REFUSED, "", "commerce-kit: <stdin>: standard input is closed\n") == run(
        capsys, "feed", "validate", "-"
    )


def test_a_file_name_holding_nul_is_refused_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        EXIT_REFUSED,
        "",
        "commerce-kit: 'feed\\x00.csv': a file name cannot hold a NUL character\n",
    ) == run(capsys, "feed", "validate", "feed\0.csv")


def test_a_file_whose_name_holds_a_line_break_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "odd\nname.csv"
    shutil.copy(FIXTURES / "rejected.csv", path)
    status, out, _ = run(capsys, "feed", "validate", str(path))
    head = f"{path} (csv): 4 records, 1 accepted, 3 rejected\n"
    assert (EXIT_REJECTED, head) == (status, out[: len(head)])


def test_text_the_terminal_cannot_encode_is_escaped_not_fatal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", out)
    status = main(["feed", "validate", fixture("unicode.ndjson")])
    out.flush()
    assert (EXIT_REJECTED, True) == (status, raw.getvalue().endswith(b"got 'dix \\u20ac'\n"))


def test_json_stays_ascii_and_valid_for_any_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "feed", "validate", fixture("unicode.ndjson"), "--json")
    assert (True, "got 'dix \u20ac'") == (
        out.isascii(),
        json.loads(out)["errors"][0]["message"][-11:],
    )


# -- shop exports and their columns ---------------------------------------------------------------


def test_a_shop_export_is_mapped_by_default_and_its_skipped_rows_told(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = fixture("shopify_export.csv")
    status, out, _ = run(capsys, "feed", "validate", path, "--currency", "EUR")
    assert (
        EXIT_REJECTED,
        [
            f"{path} (csv, shopify columns): 3 records, 2 accepted, 1 rejected",
            "skipped 1 row: an extra image of the product above it, not a variant",
            "line 5, price: is required",
        ],
    ) == (status, out.splitlines())


def test_a_missing_currency_brings_a_hint_unless_one_was_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = fixture("shopify_export.csv")
    _, without, _ = run(capsys, "feed", "validate", path)
    _, given_one, _ = run(capsys, "feed", "validate", path, "--currency", "EUR")
    _, as_json, _ = run(capsys, "feed", "validate", path, "--json")
    hint = (
        "hint: the feed names no currency; if all its prices are in one, give it with "
        "--currency (such as --currency USD)"
    )
    assert (hint, False, False) == (
        without.splitlines()[-1],
        "hint" in given_one,
        "hint" in as_json,
    )


def test_no_hint_without_currency_errors(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "feed", "validate", fixture("rejected.csv"))
    assert "hint" not in out


def test_columns_none_reads_the_columns_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    path = fixture("shopify_export.csv")
    status, out, _ = run(capsys, "feed", "validate", path, "--columns", "none", "--max-errors", "1")
    assert (EXIT_REJECTED, f"{path} (csv): 4 records, 0 accepted, 4 rejected") == (
        status,
        out.splitlines()[0],
    )


def test_a_named_preset_the_feed_does_not_match_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = refused(capsys, fixture("shopify_export.csv"), "--columns", "WooCommerce")
    assert (
        "The feed is not valid in its format: line 2: the feed has none of the columns of the "
        "'woocommerce' column map (its columns: Handle, Title, "
    ) in err


def test_the_json_report_names_the_columns_and_lists_skipped_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(
        capsys, "feed", "validate", fixture("shopify_export.csv"), "--json", "--currency", "EUR"
    )
    report = json.loads(out)
    assert (
        "shopify",
        1,
        [{"line": 4, "reason": "an extra image of the product above it, not a variant"}],
    ) == (report["columns"], report["skipped"], report["skipped_rows"])


def test_skipped_rows_are_told_even_when_no_record_is_left(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "parents.csv"
    path.write_text("Type,SKU,Name,Regular price\nvariable,P,Pot,\nvariable,Q,Cup,\n")
    status, out, _ = run(capsys, "feed", "validate", str(path))
    assert (
        EXIT_OK,
        [
            f"{path} (csv, woocommerce columns): no records found",
            "skipped 2 rows: a variable product, whose variations are the products",
        ],
    ) == (status, out.splitlines())


def test_the_json_report_lists_at_most_a_thousand_skipped_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "parents.csv"
    path.write_text("Type,SKU,Name,Regular price\n" + "grouped,G,Set,\n" * 1_005)
    report = json.loads(run(capsys, "feed", "validate", str(path), "--json")[1])
    assert (1_005, 1_000) == (report["skipped"], len(report["skipped_rows"]))


COLUMN_HINT = (
    "hint: no column is a product field (the feed's columns: {found}); expected sku, title, "
    "currency, price, and optionally description, stock, url, image_url, brand, gtin; or a shop "
    "export's (magento, shopify, woocommerce)"
)


def test_a_feed_whose_columns_match_nothing_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "other.ndjson"
    path.write_text('{"Artikel": "A-1", "Preis": "3.00"}\n{"Artikel": "A-2", "Preis": "4.00"}\n')
    status, out, _ = run(capsys, "feed", "validate", str(path))
    lines = out.splitlines()
    assert (EXIT_REJECTED, COLUMN_HINT.format(found="Artikel, Preis")) == (status, lines[1])
    assert "hint: the feed names no currency" not in out  # the column hint explains it all


def test_the_json_report_names_the_unmatched_columns_and_the_expected_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b,c,d,e,f,g,h,i,j\n" + "1,2,3,4,5,6,7,8,9,10\n")
    report = json.loads(run(capsys, "feed", "validate", str(path), "--json")[1])
    assert {
        "message": COLUMN_HINT.format(found="a, b, c, d, e, f, g, h, ...")[len("hint: ") :],
        "found": list("abcdefghij"),
        "expected": [
            "sku",
            "title",
            "currency",
            "price",
            "description",
            "stock",
            "url",
            "image_url",
            "brand",
            "gtin",
        ],
    } == report["unmatched_columns"]


def test_one_known_column_is_enough_to_give_no_column_hint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "partial.csv"
    path.write_text("Artikel,price\nA-1,3.00\n")
    _, out, _ = run(capsys, "feed", "validate", str(path))
    _, as_json, _ = run(capsys, "feed", "validate", str(path), "--json")
    assert ("no column" in out, None) == (False, json.loads(as_json)["unmatched_columns"])


def test_the_saleor_sample_is_explained_not_just_listed(capsys: pytest.CaptureFixture[str]) -> None:
    path = vectors_dir() / "feeds" / "saleor_populatedb_products_subset.json"
    status, out, _ = run(capsys, "feed", "validate", str(path), "--max-errors", "1")
    report = json.loads(run(capsys, "feed", "validate", str(path), "--json")[1])
    assert (EXIT_REJECTED, COLUMN_HINT.format(found="model, pk, fields")) == (
        status,
        out.splitlines()[1],
    )
    assert (["model", "pk", "fields"], 776) == (
        report["unmatched_columns"]["found"],
        report["error_count"],
    )


def test_the_presets_the_command_offers_are_the_library_s() -> None:
    assert sorted(commerce_kit.feeds.FIELD_MAPS) == list(COLUMN_PRESETS)


# -- refusals ----------------------------------------------------------------------------------


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status, out, err = run(capsys, "feed", "validate", *argv)
    assert (EXIT_REFUSED, "", 1) == (status, out, len(err.splitlines()))
    assert "Traceback" not in err
    return err


def test_a_missing_file_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert "commerce-kit: /no/such/feed.csv: no such file\n" == refused(capsys, "/no/such/feed.csv")


def test_a_directory_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert f"commerce-kit: {tmp_path}: is a directory, not a feed file\n" == refused(
        capsys, str(tmp_path)
    )


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (PermissionError(13, "Permission denied"), "permission denied"),
        (OSError(5, "Input/output error"), "cannot be read (Input/output error)"),
        (OSError("odd"), "cannot be read (odd)"),
    ],
)
def test_other_read_failures_are_refused_with_their_cause(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, error: OSError, said: str
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise error

    monkeypatch.setattr(commerce_kit.feeds, "parse_feed", fail)
    path = fixture("valid.csv")
    assert f"commerce-kit: {path}: {said}\n" == refused(capsys, path)


def test_an_unknown_format_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(capsys, fixture("valid.csv"), "--format", "yaml")
    assert err.startswith(
        f"commerce-kit: {fixture('valid.csv')}: The feed format is not supported: "
    )


def test_unsafe_xml_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(capsys, fixture("bomb.xml"))
    assert "unsafe XML" in err


def test_a_malformed_feed_is_refused_with_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(capsys, fixture("broken.json"))
    assert ": The feed is not valid in its format: line 2, column " in err


def test_a_feed_over_a_limit_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "huge_cell.csv"
    path.write_text("sku,title,price,currency\nSKU-1," + "x" * 20_000 + ",1.00,USD\n")
    assert "The feed is too large" in refused(capsys, str(path))


def test_a_bug_in_commerce_kit_exits_3_with_a_hint_and_no_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, records: object, **kwargs: object) -> None:
        raise KeyError("model\nfield")

    monkeypatch.setattr(commerce_kit.validation.Validator, "iter_validate", broken)
    status, out, err = run(capsys, "feed", "validate", fixture("valid.csv"))
    assert (EXIT_INTERNAL, "", 1) == (status, out, len(err.splitlines()))
    assert err.startswith("commerce-kit: internal error (KeyError: 'model\\nfield'). This is a bug")
    assert "please report it" in err


def test_an_interrupt_exits_130_quietly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise KeyboardInterrupt

    monkeypatch.setattr(commerce_kit.feeds, "parse_feed", interrupted)
    assert (130, "", "commerce-kit: interrupted\n") == run(
        capsys, "feed", "validate", fixture("valid.csv")
    )


def test_a_reader_that_goes_away_ends_the_command_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    status = main(["feed", "validate", fixture("rejected.csv")])
    assert (EXIT_REFUSED, "") == (status, capsys.readouterr().err)


def test_a_long_internal_error_is_clipped_to_one_short_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, records: object, **kwargs: object) -> None:
        raise RuntimeError("x" * 5_000)

    monkeypatch.setattr(commerce_kit.validation.Validator, "iter_validate", broken)
    status, _, err = run(capsys, "feed", "validate", fixture("valid.csv"))
    assert (EXIT_INTERNAL, 1, True) == (status, len(err.splitlines()), len(err) < 400)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=200)
    | st.sampled_from([b"[", b"{}", b"<a>", b"<?xml version='1.0'?><rss/>", b'sku\n"', b"\xff"]),
    suffix=st.sampled_from([".csv", ".tsv", ".json", ".ndjson", ".xml", ".dat"]),
)
def test_no_input_makes_it_crash_or_print_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: bytes, suffix: str
) -> None:
    path = tmp_path / f"feed{suffix}"
    path.write_bytes(data)
    status, _, err = run(capsys, "feed", "validate", str(path))
    assert (True, False) == (status in {EXIT_OK, EXIT_REJECTED, EXIT_REFUSED}, "Traceback" in err)


# -- the command line itself ---------------------------------------------------------------------


def test_version_prints_the_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert (EXIT_OK, f"commerce-kit {__version__}\n", "") == run(capsys, "--version")


def test_a_lower_case_currency_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    upper = run(capsys, "feed", "validate", fixture("shopify_export.csv"), "--currency", "EUR")
    lower = run(capsys, "feed", "validate", fixture("shopify_export.csv"), "--currency", "eur")
    assert upper == lower


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "feed", "validate", "--help")
    assert (EXIT_OK, True) == (status, "--max-errors N" in out)


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        ([], "usage: commerce-kit [-h]"),
        (["feed"], "usage: commerce-kit feed [-h] ACTION"),
        (["feed", "validate"], "the following arguments are required: PATH"),
        (["feed", "validate", "x.csv", "--max-errors", "-1"], "must be a whole number >= 0"),
        (["feed", "validate", "x.csv", "--max-errors", "ten"], "must be a whole number >= 0"),
        (["feed", "validate", "x.csv", "--columns", "shopfy"], "must be one of magento, shopify"),
        (
            ["feed", "validate", "x.csv", "--currency", "DOL"],
            "not an ISO 4217 currency code: 'DOL'",
        ),
        (["feed", "validate", "x.csv", "--currency", ""], "not an ISO 4217 currency code: ''"),
        (["shop"], "invalid choice: 'shop'"),
    ],
)
def test_usage_errors_exit_2_with_help_on_stderr(
    capsys: pytest.CaptureFixture[str], argv: list[str], usage: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert (EXIT_REFUSED, "", True) == (status, out, usage in err)


# -- progress ----------------------------------------------------------------------------------


@pytest.fixture
def big_feed(tmp_path: Path) -> Path:
    # Over the 1 MiB threshold with few records: a long column the schema ignores.
    path = tmp_path / "big.csv"
    notes = "x" * 8_000
    rows = "".join(f"SKU-{n},Mug number {n},{n % 90 + 1}.00,USD,{notes}\n" for n in range(140))
    path.write_text("sku,title,price,currency,notes\n" + rows)
    assert path.stat().st_size > 1024 * 1024
    return path


def test_a_large_feed_draws_a_progress_bar_on_a_terminal_and_wipes_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], big_feed: Path
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    status = main(["feed", "validate", str(big_feed)])
    drawn = terminal.getvalue()
    assert (EXIT_OK, True, True) == (status, "100%" in drawn, drawn.endswith("\x1b[2K"))
    assert "all valid" in capsys.readouterr().out


@pytest.mark.parametrize("columns", [24, 40, 72])
def test_the_bar_fits_a_narrow_terminal_and_leaves_no_line_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, big_feed: Path, columns: int
) -> None:
    folder = tmp_path / ("a-rather-long-folder-name-" * 3)
    folder.mkdir()
    path = folder / "partner-products-export-2024-with-a-long-name.csv"
    shutil.copy(big_feed, path)
    monkeypatch.setenv("COLUMNS", str(columns))  # what the terminal says its width is
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    main(["feed", "validate", str(path)])
    drawn = terminal.getvalue()
    shown = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", part) for part in re.split(r"[\r\n]", drawn)]
    assert [] == [part for part in shown if len(part.rstrip()) > columns]
    assert (True, True) == ("..." in "".join(shown), drawn.count("\n") == drawn.count("\x1b[1A"))


def test_no_progress_is_drawn_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str], big_feed: Path
) -> None:
    assert (EXIT_OK, "") == run(capsys, "feed", "validate", str(big_feed))[::2]


def test_no_progress_turns_the_bar_off_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, big_feed: Path
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    main(["feed", "validate", str(big_feed), "--no-progress", "--json"])
    assert "" == terminal.getvalue()


def test_a_refused_feed_wipes_the_bar_before_the_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "big.json"
    path.write_text('[{"sku": "' + "x" * (1024 * 1024) + '"')
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    status = main(["feed", "validate", str(path)])
    drawn, message = terminal.getvalue().rsplit("\x1b[2K", 1)
    assert (EXIT_REFUSED, True, True) == (
        status,
        "%" in drawn,
        message.startswith("commerce-kit: "),
    )


# -- the real sample feeds -------------------------------------------------------------------


def sample_feeds() -> list[Any]:
    folder = VECTORS / "feeds"
    if not folder.is_dir():
        return [pytest.param(None, id="vectors-absent")]
    return [pytest.param(path, id=path.name) for path in sorted(folder.iterdir())]


@pytest.mark.parametrize("path", sample_feeds())
def test_real_sample_feeds_are_reported_not_refused(
    capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    vectors_dir()
    status, out, err = run(capsys, "feed", "validate", str(path), "--json")
    report = json.loads(out)
    assert (True, "", report["records"]) == (
        status in {EXIT_OK, EXIT_REJECTED},
        err,
        report["accepted"] + report["rejected"],
    )
    assert report["records"] > 0


def test_the_google_merchant_sample_is_all_valid(capsys: pytest.CaptureFixture[str]) -> None:
    path = vectors_dir() / "feeds" / "google_merchant_example_feed_rss.xml"
    assert (EXIT_OK, f"{path} (google-merchant): 6 records, 6 accepted, all valid\n") == run(
        capsys, "feed", "validate", str(path)
    )[:2]


def test_the_magento_sample_lists_its_errors_by_line(capsys: pytest.CaptureFixture[str]) -> None:
    path = vectors_dir() / "feeds" / "magento_products_gear_bags.csv"
    status, out, _ = run(capsys, "feed", "validate", str(path), "--max-errors", "2")
    lines = out.splitlines()
    assert (EXIT_REJECTED, 5) == (status, len(lines))
    assert lines[1].startswith("line 2, currency: is required")
    assert lines[3].startswith("... and ")
    assert lines[4].startswith("hint: ")


@pytest.mark.parametrize(
    ("name", "head", "skipped"),
    [
        (
            "magento_configurable_products_first150.csv",
            "(csv, magento columns): 141 records, 141 accepted, all valid",
            ["skipped 9 rows: a configurable product, whose simple products are the products"],
        ),
        (
            "woocommerce_sample_products.csv",
            "(csv, woocommerce columns): 21 records, 21 accepted, all valid",
            [
                "skipped 2 rows: a variable product, whose variations are the products",
                "skipped 1 row: a grouped product, a set of other products",
            ],
        ),
    ],
)
def test_real_shop_exports_validate_with_their_currency(
    capsys: pytest.CaptureFixture[str], name: str, head: str, skipped: list[str]
) -> None:
    path = vectors_dir() / "feeds" / name
    status, out, _ = run(capsys, "feed", "validate", str(path), "--currency", "USD")
    assert (EXIT_OK, [f"{path} {head}", *skipped]) == (status, out.splitlines())


@pytest.mark.parametrize("name", ["xmlbomb.xml", "quadratic.xml", "external.xml", "cyclic.xml"])
def test_published_xml_attacks_are_refused(capsys: pytest.CaptureFixture[str], name: str) -> None:
    path = vectors_dir() / "xml_attacks" / name
    assert "unsafe XML" in refused(capsys, str(path), "--format", "xml")


# -- as installed ------------------------------------------------------------------------------


def test_the_installed_console_script_runs_in_its_own_process() -> None:
    script = shutil.which("commerce-kit", path=Path(sys.executable).parent)
    assert script is not None, "the console script is declared in pyproject.toml"
    done = subprocess.run(
        [script, "feed", "validate", fixture("rejected.csv"), "--max-errors", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (EXIT_REJECTED, "", "... and 3 more") == (
        done.returncode,
        done.stderr,
        done.stdout.splitlines()[-1],
    )


def test_python_dash_m_commerce_kit_runs_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "commerce_kit", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (EXIT_OK, f"commerce-kit {__version__}\n") == (done.returncode, done.stdout)
