"""Real files and hostile input (issue 15): headerless / whitespace files, ids, dates, odd inputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segkit.io import read_dataset, read_transactions

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT.parent / "shared" / "samples" / "CDNOW_sample.txt"
CDNOW_COLUMNS = {"customer_id": "1", "order_date": "2", "amount": "4"}


@pytest.fixture(scope="module")
def cdnow_path() -> Path:
    if not CDNOW.is_file():
        pytest.skip(f"CDNOW sample not found at {CDNOW} (it lives in ../shared/samples)")
    return CDNOW


@pytest.mark.parametrize("sep", ["whitespace", r"\s+"])
def test_reader_whitespace_headerless_cdnow(cdnow_path, sep):
    data = read_dataset(
        cdnow_path, layout="generic", sep=sep, header=False, columns=CDNOW_COLUMNS, date_format="%Y%m%d"
    )
    tx = data.transactions
    # published: 6,919 purchase records of 2,357 customers, first purchase in the first 12 weeks of 1997
    assert len(tx) == 6919
    assert tx["customer_id"].nunique() == 2357
    assert tx["order_date"].min() == pd.Timestamp("1997-01-01")
    assert tx["order_date"].max() <= pd.Timestamp("1998-06-30")
    assert int((tx["amount"] == 0).sum()) == 8
    first = tx.iloc[0]
    assert (first["customer_id"], first["order_date"], first["amount"]) == (
        "0001",  # ids keep their leading zeros
        pd.Timestamp("1997-01-01"),
        29.33,
    )
    raw = pd.read_csv(cdnow_path, sep=r"\s+", header=None)
    assert tx["amount"].sum() == pytest.approx(raw[4].sum())


def test_reader_headerless_quantity_is_not_multiplied(cdnow_path):
    tx = read_transactions(
        cdnow_path,
        layout="generic",
        sep="whitespace",
        header=False,
        columns={**CDNOW_COLUMNS, "quantity": "3"},
        date_format="%Y%m%d",
    )
    raw = pd.read_csv(cdnow_path, sep=r"\s+", header=None)
    assert tx["quantity"].tolist() == raw[3].astype(float).tolist()
    assert tx["amount"].tolist() == raw[4].astype(float).tolist()


def test_reader_whitespace_is_sniffed_and_headerless_csv_and_xlsx(tmp_path):
    text = "  a1   20240105  10.5\r\n  b2  20240210 20\r\n"
    path = tmp_path / "log.txt"
    path.write_text(text, newline="")
    mapping = {"customer_id": "0", "order_date": "1", "amount": "2"}
    sniffed = read_transactions(path, layout="generic", header=False, columns=mapping, date_format="%Y%m%d")
    assert sniffed["customer_id"].tolist() == ["a1", "b2"]
    assert sniffed["amount"].tolist() == [10.5, 20.0]
    csv_path = tmp_path / "log.csv"
    csv_path.write_text("a1,20240105,10.5\nb2,20240210,20\n")
    from_csv = read_transactions(
        csv_path, layout="generic", header=False, columns=mapping, date_format="%Y%m%d"
    )
    pd.testing.assert_frame_equal(from_csv, sniffed)
    xlsx = tmp_path / "log.xlsx"
    pd.DataFrame([["a1", "20240105", 10.5], ["b2", "20240210", 20]]).to_excel(xlsx, header=False, index=False)
    from_xlsx = read_transactions(xlsx, layout="generic", header=False, columns=mapping, date_format="%Y%m%d")
    pd.testing.assert_frame_equal(from_xlsx, sniffed)


# --------------------------------------------------------------------------- item 1: mixed ids
_ID_CELLS = st.lists(
    st.one_of(
        st.integers(min_value=0, max_value=10**9),
        st.text(alphabet="0123456789", min_size=1, max_size=7).map(lambda t: "0" + t),  # leading zero
        st.text(alphabet="ABCXYZ-", min_size=1, max_size=6),
    ),
    min_size=2,
    max_size=12,
)


def _mixed_frame(ids: list) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype="object"),
            "order_id": pd.Series(list(reversed(ids)), dtype="object"),
            "product_id": pd.Series(ids, dtype="object"),
            "order_date": pd.date_range("2024-01-01", periods=n, freq="D"),
            "amount": [float(i + 1) for i in range(n)],
        }
    )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=_ID_CELLS)
def test_item1_mixed_int_str_ids_keep_every_value(tmp_path, ids):
    expected = [str(v) for v in ids]
    frame = _mixed_frame(ids)
    csv_path = tmp_path / "t.csv"
    frame.to_csv(csv_path, index=False)
    xlsx_path = tmp_path / "t.xlsx"
    frame.to_excel(xlsx_path, index=False)  # ints stay numbers, "00123" stays text in the sheet
    parquet_path = tmp_path / "t.parquet"
    frame.astype({c: "str" for c in ("customer_id", "order_id", "product_id")}).to_parquet(parquet_path)
    for source in (frame, csv_path, xlsx_path, parquet_path):
        tx = read_transactions(source, layout="generic")
        assert tx["customer_id"].tolist() == expected, source
        assert tx["order_id"].tolist() == list(reversed(expected)), source
        assert tx["product_id"].tolist() == expected, source


# --------------------------------------------------------------------------- item 9: cleaning
def test_item9_same_day_repeats_without_order_id_are_kept_and_reported():
    from segkit.cleaning import clean_transactions

    day = pd.Timestamp("1997-01-01")
    no_order_ids = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "a", "b"], dtype="str"),
            "order_date": [day, day, day],
            "amount": [12.0, 12.0, 5.0],
        }
    )
    clean, report = clean_transactions(no_order_ids)
    assert len(clean) == 3  # two identical same-day purchases without order ids are both real
    assert report.possible_duplicates == 1
    assert "possible duplicates" in str(report)
    with_order_ids = no_order_ids.assign(order_id=pd.Series(["1", "1", "2"], dtype="str"))
    clean, report = clean_transactions(with_order_ids)
    assert report.reasons.tolist() == ["kept", "duplicate", "kept"]
    assert report.possible_duplicates == 0


def test_item9_zero_dollar_purchases_are_kept_under_their_own_reason():
    from segkit.cleaning import CleaningRules, clean_transactions

    tx = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "a", "z"], dtype="str"),
            "order_date": pd.to_datetime(["1997-01-01", "1997-02-01", "1997-01-05"]),
            "amount": [0.0, 10.0, 0.0],
        }
    )
    clean, report = clean_transactions(tx)
    assert report.reasons.tolist() == ["zero_amount", "kept", "zero_amount"]
    assert clean["order_date"].min() == pd.Timestamp("1997-01-01")  # first purchase date unchanged
    assert set(clean["customer_id"]) == {"a", "z"}  # a $0-only customer stays a customer
    frame = report.to_frame().set_index("reason")
    assert frame.loc["zero_amount", "rows"] == 2 and frame.loc["zero_amount", "amount"] == 0
    dropped, report = clean_transactions(tx, CleaningRules(zero_amount="drop"))
    assert report.reasons.tolist() == ["non_positive_price", "kept", "non_positive_price"]
    assert report.removed_customers.to_dict("index") == {"z": {"lines": 1, "reason": "non_positive_price"}}


def test_item9_cdnow_keeps_its_zero_dollar_purchases_and_repeat_rows(cdnow_path):
    from segkit.cleaning import clean_transactions

    tx = read_transactions(
        cdnow_path,
        layout="generic",
        sep="whitespace",
        header=False,
        columns=CDNOW_COLUMNS,
        date_format="%Y%m%d",
    )
    clean, report = clean_transactions(tx)
    assert len(clean) == len(tx) == 6919
    assert clean["customer_id"].nunique() == 2357
    assert report.to_frame().set_index("reason").loc["zero_amount", "rows"] == 8
    assert report.possible_duplicates == int(tx.duplicated().sum()) > 0
    assert report.removed_customers.empty


def test_item9_customers_removed_entirely_are_listed_with_their_reason():
    from segkit.cleaning import clean_transactions

    tx = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "b", "b", "c"], dtype="str"),
            "order_id": pd.Series(["1", "C2", "C3", "4"], dtype="str"),
            "order_date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
            "product_id": pd.Series(["A", "A", "A", "POST"], dtype="str"),
            "quantity": [1.0, -1.0, -2.0, 1.0],
            "unit_price": [2.0, 2.0, 2.0, 5.0],
            "amount": [2.0, -2.0, -4.0, 5.0],
        }
    )
    _, report = clean_transactions(tx)
    removed = report.removed_customers
    assert removed.index.tolist() == ["b", "c"]
    assert removed["reason"].tolist() == ["cancellation", "non_product"]
    assert removed["lines"].tolist() == [2, 1]
    assert "2 customers removed entirely" in str(report)


# --------------------------------------------------------------------------- item 4: score
def test_item4_score_accepts_a_batch_without_one_category_or_channel():
    from segkit import clustering
    from segkit.cleaning import clean_transactions
    from segkit.datasets import make_demo_shop
    from segkit.features import customer_file
    from segkit.io import Dataset

    shop = make_demo_shop(n_customers=400, seed=4)
    clean, report = clean_transactions(shop.transactions)
    customers = customer_file(clean, cancellations=report.by_customer)
    shares = [c for c in customers.columns if c.startswith(("share_cat_", "share_channel_"))]
    model = clustering.fit_segmentation(
        customers, "kmeans", 3, features=["recency_days", "frequency", *shares], seed=0
    )
    tx = shop.transactions
    for column, prefix in (("category", "share_cat_"), ("channel", "share_channel_")):
        dropped = next(c for c in shares if c.startswith(prefix)).removeprefix(prefix)
        batch = tx[tx[column].astype(str) != dropped].reset_index(drop=True)
        scored = clustering.score_dataset(model, Dataset(batch))
        assert scored["customer_id"].nunique() == len(scored) > 0
        assert scored["segment_id"].isin(range(3)).all()


# --------------------------------------------------------------------------- item 10: CSV injection
def test_item10_csv_outputs_neutralise_formula_cells_and_keep_numbers(tmp_path):
    import csv

    from segkit.io import write_csv_atomic

    payloads = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", "\tTAB", "safe", "a=b"]
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(payloads, dtype="str"),
            "segment_name": pd.Series(['=HYPERLINK("http://x")', *["Loyal"] * 6], dtype="str"),
            "segment_id": [-1, 0, 1, 2, 3, 4, 5],
            "amount": [-3.5, 0.0, 1.25, -0.5, 2.0, 3.0, 4.0],
        }
    )
    path = write_csv_atomic(frame, tmp_path / "segments.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ids = [row["customer_id"] for row in rows]
    assert ids == ["'=cmd|' /C calc'!A0", "'+1+1", "'-2+3", "'@SUM(A1:A2)", "'\tTAB", "safe", "a=b"]
    assert rows[0]["segment_name"].startswith("'=")
    assert [float(row["amount"]) for row in rows] == frame["amount"].tolist()  # numbers stay numbers
    assert [int(row["segment_id"]) for row in rows] == frame["segment_id"].tolist()
    assert frame["customer_id"].iloc[0].startswith("=")  # the caller's frame is not modified
    back = pd.read_csv(path)
    assert pd.api.types.is_float_dtype(back["amount"]) and pd.api.types.is_integer_dtype(back["segment_id"])


# --------------------------------------------------------------------------- item 6: dates
def _dated(dates: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i % 7}" for i in range(len(dates))],
            "order_date": dates,
            "amount": [10.0] * len(dates),
        }
    )


@pytest.mark.parametrize("bad", ["1500-03-01", "2300-01-01"])
def test_item6_out_of_bounds_dates_are_a_segkit_error(tmp_path, bad):
    from segkit.schema import DataError

    path = tmp_path / "t.csv"
    _dated(["2024-01-01", bad, "2024-01-03"]).to_csv(path, index=False)
    for source in (path, _dated(["2024-01-01", bad, "2024-01-03"])):
        with pytest.raises(DataError, match="outside the range") as info:
            read_transactions(source, layout="generic")
        assert info.value.column == "order_date" and info.value.n_bad == 1


@pytest.mark.parametrize("typo", ["1900-05-02", "2200-05-02"])
def test_item6_an_isolated_typo_date_is_refused_naming_the_row(typo):
    from segkit.schema import DataError

    dates = [str(d.date()) for d in pd.date_range("2023-01-01", periods=300, freq="D")]
    dates[41] = typo
    with pytest.raises(DataError, match="far from all the others") as info:
        read_transactions(_dated(dates), layout="generic")
    assert info.value.examples == [f"data row 42: {typo}"]
    # a long history is not a typo: a thin early tail of real orders passes
    tail = ["2020-03-01", "2021-09-01", "2022-02-01", "2022-06-01", "2022-09-01"]
    history = [*tail, *dates[:41], *dates[42:]]
    assert len(read_transactions(_dated(history), layout="generic")) == 304


def test_item6_time_zone_offsets_keep_the_local_time(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "customer_id,order_date,amount\na,2024-01-01T10:00:00+05:00,1\nb,2024-01-02 10:00:00-03:00,2\n"
        "c,2024-01-03T23:30:00Z,3\n"
    )
    expected = pd.to_datetime(["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-03 23:30"]).tolist()
    assert read_transactions(path)["order_date"].tolist() == expected
    aware = _dated(["2024-01-01 10:00"] * 3).assign(
        order_date=pd.to_datetime(["2024-01-01 10:00"] * 3).tz_localize("Europe/Paris")
    )
    assert read_transactions(aware)["order_date"].tolist() == [pd.Timestamp("2024-01-01 10:00")] * 3


def test_item6_day_month_order_is_never_guessed_silently():
    from segkit.schema import DataError

    with pytest.raises(DataError, match="day/month and as month/day") as info:
        read_transactions(_dated(["01/02/2024", "03/04/2024", "12/11/2024"]), layout="generic")
    assert "date_format" in info.value.hint
    day_first = read_transactions(_dated(["01/02/2024", "13/04/2024"]), layout="generic")
    assert day_first["order_date"].tolist() == pd.to_datetime(["2024-02-01", "2024-04-13"]).tolist()
    month_first = read_transactions(_dated(["01/02/2024", "04/13/2024"]), layout="generic")
    assert month_first["order_date"].tolist() == pd.to_datetime(["2024-01-02", "2024-04-13"]).tolist()
    given = read_transactions(_dated(["01/02/2024", "03/04/2024"]), layout="generic", date_format="%d/%m/%Y")
    assert given["order_date"].tolist() == pd.to_datetime(["2024-02-01", "2024-04-03"]).tolist()


# --------------------------------------------------------------------------- items 2, 5, 8: runner and CLI
def _run_main(capsys, *argv: str) -> tuple[int, str, str]:
    from segkit import cli

    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _no_notebook(monkeypatch) -> None:
    from segkit.report import runner

    def refuse(*args, **kwargs):
        raise AssertionError("a notebook started")

    monkeypatch.setattr(runner, "_run_one", refuse)


def _good_csv(tmp_path: Path) -> Path:
    path = tmp_path / "good.csv"
    rows = [f"c{i % 12},2024-01-{i % 28 + 1:02d},{i + 1}.5" for i in range(40)]
    path.write_text("customer_id,order_date,amount\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    ("parameter", "flag"),
    [
        ("run", "--name"),
        ("processed_dir", "--processed-dir"),
        ("reports_dir", "--reports-dir"),
        ("data", "--data"),
    ],
)
def test_item2_runner_owned_parameters_are_refused_naming_the_flag(
    capsys, tmp_path, monkeypatch, parameter, flag
):
    _no_notebook(monkeypatch)
    good = tmp_path / "data" / "processed" / "demo"
    good.mkdir(parents=True)
    (good / "segments.csv").write_text("customer_id\nA\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = _run_main(
        capsys, "run", "--data", str(_good_csv(tmp_path)), "--name", "demo", "-p", f"{parameter}=x"
    )
    assert code == 2
    assert f"use {flag} instead of -p {parameter}" in err and "Traceback" not in err
    assert (good / "segments.csv").read_text() == "customer_id\nA\n"  # the good run is untouched


def test_item5_a_second_run_of_the_same_name_stops_at_once(capsys, tmp_path, monkeypatch):
    from segkit import report
    from segkit.schema import ParameterError

    _no_notebook(monkeypatch)
    data = _good_csv(tmp_path)
    with report.run_lock(tmp_path / "processed", "same"):
        with pytest.raises(ParameterError, match="already in progress"):
            report.run_notebooks(
                data, run="same", processed_dir=tmp_path / "processed", reports_dir=tmp_path / "reports"
            )
        monkeypatch.chdir(tmp_path)
        code, _, err = _run_main(
            capsys, "run", "--data", str(data), "--name", "same", "--processed-dir", "processed"
        )
    assert code == 2 and "already in progress" in err and "--name" in err and "Traceback" not in err
    assert not (tmp_path / "processed" / ".same.partial").exists()
    with report.run_lock(tmp_path / "processed", "same"):  # released: the lock can be taken again
        pass


def test_item5_processed_dir_equal_to_reports_dir_is_refused_cleanly(capsys, tmp_path, monkeypatch):
    _no_notebook(monkeypatch)
    monkeypatch.chdir(tmp_path)
    code, _, err = _run_main(
        capsys, "run", "--data", str(_good_csv(tmp_path)), "--processed-dir", "out", "--reports-dir", "./out"
    )
    assert code == 2 and "same folder" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["run", "score"])
def test_item8_reader_options_reach_the_reader_from_run_and_score(
    capsys, tmp_path, monkeypatch, command, cdnow_path
):
    from segkit import clustering, model, report

    received: dict = {}
    monkeypatch.setattr(
        report,
        "run_notebooks",
        lambda data, **kw: received.update(kw) or (_ for _ in ()).throw(SystemExit(0)),
    )
    monkeypatch.setattr(model, "load_model", lambda path: "model")
    monkeypatch.setattr(
        clustering,
        "score_dataset",
        lambda m, dataset: (
            received.update(n_lines=len(dataset.transactions))
            or pd.DataFrame({"customer_id": ["A"], "segment_id": [0]})
        ),
    )
    (tmp_path / "m.skops").write_bytes(b"x")
    options = [
        "--data",
        str(cdnow_path),
        "--layout",
        "generic",
        "--sep",
        "whitespace",
        "--no-header",
        "--date-format",
        "%Y%m%d",
        "--sheet",
        "",
        "--columns",
        "customer_id=1",
        "order_date=2",
        "amount=4",
    ]
    extra = (
        ["--model", str(tmp_path / "m.skops"), "--out", str(tmp_path / "s.csv")] if command == "score" else []
    )
    try:
        code, _, err = _run_main(capsys, command, *options, *extra)
    except SystemExit:
        code, err = 0, ""
    assert code == 0, err
    if command == "run":
        assert (received["sep"], received["header"], received["date_format"]) == (
            "whitespace",
            False,
            "%Y%m%d",
        )
        assert received["columns"] == {"customer_id": "1", "order_date": "2", "amount": "4"}
    else:
        assert received["n_lines"] == 6919


def test_item8_input_errors_come_before_any_notebook_in_command_line_syntax(capsys, tmp_path, monkeypatch):
    _no_notebook(monkeypatch)  # timings: benchmarks/bench_preflight.py
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "sales.csv"
    path.write_text("Client,Date,Total\na,2024-01-01,3\n")
    code, _, err = _run_main(capsys, "run", "--data", str(path), "--name", "x")
    assert code == 2 and "Traceback" not in err
    assert "--layout generic" in err and "--columns customer_id=" in err and "columns={" not in err
    path.write_text(
        "customer_id,order_date,amount\n" + "".join(f"c,2024-01-{d:02d},1\n" for d in range(1, 20))
    )
    code, _, err = _run_main(capsys, "run", "--data", str(path), "--name", "x")
    assert code == 2 and "1 customer(s) keep a line" in err and "at least 10" in err
    assert not (tmp_path / "reports").exists() and not (tmp_path / "data" / "processed" / "x").exists()


# --------------------------------------------------------------------------- item 7: silent or obscure failures
def test_item7_duplicate_column_names_are_refused(tmp_path):
    from segkit.schema import SchemaError

    path = tmp_path / "t.csv"
    path.write_text("customer_id,order_date,amount,amount\na,2024-01-01,1,2\n")
    frame = pd.DataFrame(
        [["a", "2024-01-01", 1.0, 2.0]], columns=["customer_id", "order_date", "amount", "amount"]
    )
    xlsx = tmp_path / "t.xlsx"
    frame.to_excel(xlsx, index=False)
    for source in (path, frame):
        with pytest.raises(SchemaError, match="more than once") as info:
            read_transactions(source)
        assert info.value.column == "amount"


def _lines(customers: int, days: int = 30) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i % customers}" for i in range(60)],
            "order_date": [pd.Timestamp("2024-01-01") + pd.Timedelta(days=i % days) for i in range(60)],
            "amount": [5.0] * 60,
        }
    )


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_lines(1), "1 customer\\(s\\) keep a line"),
        (_lines(3), "3 customer\\(s\\) keep a line"),
        (_lines(40, days=1), "one day"),
        (_lines(40).assign(customer_id=pd.Series([None] * 60, dtype="str")), "missing_customer_id: 60"),
    ],
    ids=["one-customer", "three-customers", "one-day", "no-customer-id"],
)
def test_item7_too_little_data_is_refused_before_any_notebook(tmp_path, frame, message):
    from segkit.inputs import MIN_RUN_CUSTOMERS
    from segkit.report import preflight
    from segkit.schema import DataError

    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataError, match=message):
        preflight(str(path), layout="generic")
    assert MIN_RUN_CUSTOMERS >= 5


@pytest.mark.parametrize("value", ["inf", "-inf", "1e308"])
@pytest.mark.parametrize("column", ["amount", "quantity"])
def test_item7_infinite_or_absurd_amounts_are_refused(tmp_path, value, column):
    from segkit.schema import DataError

    path = tmp_path / "t.csv"
    other = "amount" if column == "quantity" else "quantity"
    path.write_text(f"customer_id,order_date,{column},{other}\na,2024-01-01,{value},1\nb,2024-01-02,2,1\n")
    with pytest.raises(DataError, match="infinite or absurdly large") as info:
        read_transactions(path)
    assert info.value.column == column and info.value.n_bad == 1


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst"])
def test_item7_compressed_text_files_read_by_their_suffix(tmp_path, suffix):
    frame = pd.DataFrame(
        {"customer_id": ["007", "b"], "order_date": ["2024-01-01", "2024-01-02"], "amount": [1.5, 2]}
    )
    path = tmp_path / f"t{suffix}"
    if suffix.endswith(".zst"):
        import pyarrow as pa

        with pa.output_stream(str(path), compression="zstd") as out:
            out.write(frame.to_csv(index=False).encode())
    else:
        frame.to_csv(path, index=False)  # pandas compresses by suffix
    tx = read_transactions(path)
    assert tx["customer_id"].tolist() == ["007", "b"] and tx["amount"].tolist() == [1.5, 2.0]


def test_item7_a_huge_header_is_not_quoted_whole_in_errors(tmp_path):
    from segkit.schema import SegkitError

    path = tmp_path / "t.csv"
    path.write_text("x" * 65_536 + ",y\n1,2\n")
    with pytest.raises(SegkitError) as info:
        read_transactions(path)
    assert len(str(info.value)) < 3000 and "characters, cut" in str(info.value)


# --------------------------------------------------------------------------- item 3: escaping in HTML
PAYLOADS = (
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '<b id="injected">bold</b>',
    "</script><script>alert(3)</script>",
    '<a id="injected-link" href="javascript:alert(4)">click</a>',
)

_PAYLOAD_NOTEBOOK = """
import pandas as pd
import plotly.express as px
from IPython.display import Markdown, display

import segkit
from segkit import viz
from segkit.viz._common import style

viz.setup_notebook()
payloads = {payloads!r}
frame = pd.DataFrame({{"category": list(payloads), "country": list(payloads), "revenue": range(1, 6)}})
display(Markdown(f"**Top category:** {{payloads[0]}}; country {{payloads[2]}}; segment {{payloads[4]}}"))
display(frame)
tx = pd.DataFrame({{
    "customer_id": pd.Series(list(payloads) * 2, dtype="str"),
    "order_date": pd.date_range("2024-01-01", periods=10, freq="7D"),
    "amount": [float(i) for i in range(10)],
    "description": pd.Series(list(payloads) * 2, dtype="str"),
}})
clean, report = segkit.clean_transactions(tx)
display(report)
style(px.bar(frame, x="category", y="revenue", color="country", hover_name="country"), title=payloads[2]).show()
"""


@pytest.mark.slow
@pytest.mark.browser
def test_item3_data_text_is_escaped_in_every_html_page(tmp_path):
    import json

    import nbformat
    import papermill

    from segkit import report

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(_PAYLOAD_NOTEBOOK.format(payloads=PAYLOADS))]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source, executed = tmp_path / "payloads.ipynb", tmp_path / "executed.ipynb"
    nbformat.write(notebook, source)
    with report._kernel_imports_this_segkit():
        papermill.execute_notebook(
            str(source), str(executed), kernel_name="python3", progress_bar=False, cwd=str(tmp_path)
        )
    pages = [report.export_html(executed, tmp_path / "payloads.html")]
    processed = tmp_path / "processed"
    processed.mkdir()
    segments = [
        {"segment_id": i, "segment_name": p, "customers": 1, "customer_share": 0.2, "revenue_share": 0.2,
         "action": p}
        for i, p in enumerate(PAYLOADS)
    ]  # fmt: skip
    # summary files that follow segkit.summary.SUMMARY_SCHEMA (the index ignores off-schema files)
    (processed / "summary_03.json").write_text(
        json.dumps({"k": len(segments), "algorithm": "kmeans", "customers": len(segments), "segments": segments,
                    "reason": PAYLOADS[0]})
    )  # fmt: skip
    (processed / "summary_01.json").write_text(
        json.dumps({"customers": 5, "orders": 5, "revenue": 5.0, "currency": "", "period_start": "2024-01-01",
                    "period_end": "2024-02-01", "raw_lines": 5, "kept_lines": 5, "cleaning": {"kept": 5}})
    )  # fmt: skip
    pages.append(
        report.build_index(processed, tmp_path, run="x", parameters={"data": PAYLOADS[1]}, seconds={})
    )
    _assert_data_text_is_escaped(pages, text_on=[p.name for p in pages])


def _assert_data_text_is_escaped(pages: list[Path], text_on: list[str]) -> None:
    """Open each page in headless Chromium: no dialog, no element or script from the data, no markup
    drawn by plotly; on the pages named in ``text_on`` the first payload shows as text."""
    try:
        from test_browser import CHROMIUM_ARGS, chromium_path
    except ImportError:  # pragma: no cover - run from another folder
        pytest.skip("tests/test_browser.py not importable")
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium not found (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for page_path in pages:
                page = browser.new_page()
                dialogs: list[str] = []
                page.on(
                    "dialog", lambda dialog, seen=dialogs: (seen.append(dialog.message), dialog.dismiss())
                )
                page.goto(page_path.resolve().as_uri())
                page.wait_for_function(  # charts below the first screen are drawn when the browser is idle
                    "[...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('.main-svg'))",
                    timeout=120_000,
                )
                page.wait_for_timeout(500)
                assert dialogs == [], (page_path.name, dialogs)
                injected = page.evaluate(
                    """() => [
                        document.querySelectorAll('#injected, #injected-link, img[src="x"]').length,
                        [...document.querySelectorAll('script')].filter(s => s.textContent.includes('alert(')
                            && !s.textContent.includes('\\\\u003c')).length,
                        document.body.innerText.includes('onerror=alert(1)'),
                        document.querySelectorAll('svg a, svg tspan[style*="bold"]').length,
                    ]"""
                )
                assert injected[0] == 0, (page_path.name, "an element from the data was created")
                assert injected[1] == 0, (page_path.name, "a script from the data is in the page")
                if page_path.name in text_on:
                    assert injected[2], (page_path.name, "the payload should show as text")
                assert injected[3] == 0, (page_path.name, "plotly drew markup from the data")
                page.close()
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.browser
def test_item3_real_notebooks_on_a_payload_shop_escape_every_text(tmp_path):
    """The five notebooks run by `segkit run` on a small shop whose categories, channels, countries,
    descriptions and product ids hold markup and scripts: every page shows them as text."""
    import dataclasses

    from segkit.cli import main
    from segkit.datasets import make_demo_shop, write_demo_shop

    shop = make_demo_shop(n_customers=500, seed=1)
    tx = shop.transactions.copy()
    for column, payload in (("category", 0), ("channel", 2), ("country", 4), ("description", 1)):
        if column in tx:
            first = tx[column].dropna().unique()[0]
            tx[column] = tx[column].replace({first: PAYLOADS[payload]})
    if "product_id" in tx:
        tx["product_id"] = tx["product_id"].where(tx.index % 7 != 0, PAYLOADS[3])
    folder = write_demo_shop(dataclasses.replace(shop, transactions=tx), tmp_path / "payload_shop")
    code = main(["run", "--data", str(folder), "--name", "xss", "--no-progress",
                 "--processed-dir", str(tmp_path / "processed"), "--reports-dir", str(tmp_path / "reports")])  # fmt: skip
    assert code == 0
    pages = sorted((tmp_path / "reports" / "xss").glob("*.html"))
    assert len(pages) == 6  # index + five reports
    _assert_data_text_is_escaped(pages, text_on=["01_eda.html"])


# --------------------------------------------------------------------------- item 11: joins of input tables
def _olist(tmp_path: Path) -> Path:
    from test_io import _write_olist

    folder = tmp_path / "olist"
    _write_olist(folder)
    return folder


def _rewrite(folder: Path, name: str, change) -> None:
    path = folder / f"{name}.csv"
    change(pd.read_csv(path, dtype=str)).to_csv(path, index=False)


@pytest.mark.parametrize(
    ("table", "stem"), [("orders", "olist_orders_dataset"), ("order_items", "olist_order_items_dataset")]
)
def test_item11_mostly_empty_join_keys_fail_fast_naming_table_column_counts(tmp_path, table, stem):
    from segkit.io import read_olist
    from segkit.schema import DataError

    folder = _olist(tmp_path)

    def truncate(frame: pd.DataFrame) -> pd.DataFrame:  # a truncated spreadsheet export: keys lost
        many = pd.concat([frame] * 50, ignore_index=True)
        many.loc[many.index % 10 != 0, "order_id"] = None
        return many

    _rewrite(folder, stem, truncate)
    with pytest.raises(DataError) as info:
        read_olist(folder)
    assert info.value.column == f"{table}.order_id"
    assert "empty on" in str(info.value) and info.value.n_bad == (180 if table == "orders" else 270)


def test_item11_conflicting_duplicate_order_ids_are_refused(tmp_path):
    from segkit.io import read_olist
    from segkit.schema import DataError

    folder = _olist(tmp_path)
    _rewrite(
        folder,
        "olist_orders_dataset",
        lambda f: pd.concat([f, f.iloc[[0]].assign(customer_id="k9")], ignore_index=True),
    )
    with pytest.raises(DataError, match="should name each row once") as info:
        read_olist(folder)
    assert info.value.column == "orders.order_id" and info.value.n_bad == 2


def test_item11_orders_without_a_customers_row_keep_their_order_level_id(tmp_path):
    from segkit.io import read_olist

    folder = _olist(tmp_path)
    _rewrite(folder, "olist_customers_dataset", lambda f: f[f["customer_id"] == "k1"])  # covers few orders
    with pytest.warns(UserWarning, match="no row in the customers table"):
        dataset = read_olist(folder)
    tx = dataset.transactions
    assert tx["order_id"].tolist() == ["o1", "o1", "o2", "o4"]  # no order vanished
    assert tx["customer_id"].tolist() == ["u1", "u1", "k2", "k4"]
    checks = dataset.details["join_checks"]
    assert checks["orders_without_customer_row"] == 3 and checks["order_items.order_id empty"] == 0
