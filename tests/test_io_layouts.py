"""The layout registry is the single source of layouts: reader dispatch, auto detection, the command
line's choices and help, default currencies; a new layout is one new module and nothing else."""

from __future__ import annotations

import csv
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import segkit.io as sio
import segkit.io.layouts as layouts_package
from segkit import cli, report
from segkit.datasets import make_demo_shop, write_demo_shop
from segkit.formatting import resolve_currency
from segkit.io import LAYOUTS, Layout, get_layout, layout_currency, read_dataset
from segkit.io.read import detect_layout, plan_table
from segkit.io.registry import LayoutRegistry
from segkit.schema import ParameterError, SchemaError

BUILT_IN = ("generic", "online_retail", "olist")


def _header(path: Path, **reader: str) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle, **reader))


@pytest.fixture(scope="module")
def demo_folders(tmp_path_factory) -> dict[str, Path]:
    """The demo shop (small) in each of its layouts."""
    root = tmp_path_factory.mktemp("layouts")
    shop = make_demo_shop(n_customers=300, seed=3)
    return {layout: write_demo_shop(shop, root / layout, layout=layout) for layout in ("generic", "olist")}


@pytest.fixture(scope="module")
def sample_headers(samples_dir, demo_folders) -> dict[str, list[list[str]]]:
    """Headers of real (or demo) tables, by the table layout they are in."""
    generic = pd.read_parquet(demo_folders["generic"] / "transactions.parquet").columns
    return {
        "online_retail": [
            _header(samples_dir / "online_retail_II_sample.csv"),
            _header(samples_dir / "online_retail_I_layout_sample.csv"),
        ],
        "generic": [[str(c) for c in generic], ["Customer ID", "Order Date", "Amount"]],
    }


# --------------------------------------------------------------------------- one registry
def test_the_built_in_layouts_are_registered_in_order():
    assert tuple(LAYOUTS) == BUILT_IN
    assert LAYOUTS.names() == ("auto", *BUILT_IN)
    assert all(isinstance(layout, Layout) and layout.name == name for name, layout in LAYOUTS.items())
    assert {name: layout.currency for name, layout in LAYOUTS.items()} == {
        "generic": "",
        "online_retail": "GBP",
        "olist": "BRL",
    }


def test_command_line_choices_and_help_come_from_the_registry():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for command in ("run", "score"):
        option = next(a for a in commands[command]._actions if a.dest == "layout")
        assert tuple(option.choices) == LAYOUTS.names()
        assert option.default == "auto"
        for layout in LAYOUTS.values():
            assert f"{layout.name}: {layout.description}" in option.help
        data_help = next(a for a in commands[command]._actions if a.dest == "data").help
        assert all(layout.title in data_help for layout in LAYOUTS.values())
    currency_help = next(a for a in commands["run"]._actions if a.dest == "currency").help
    assert "Online Retail GBP" in currency_help and "Olist BRL" in currency_help


def test_default_currency_reads_the_registry():
    for name, layout in LAYOUTS.items():
        assert layout_currency(name) == resolve_currency("", name) == layout.currency
        for alias in layout.aliases:
            assert layout_currency(alias) == layout.currency
    assert layout_currency("online_retail_ii") == "GBP"
    assert layout_currency(None) == layout_currency("no_such_layout") == ""


def _assert_detects_only_its_own(name: str, header: list[str]) -> None:
    assert detect_layout(header, {}, "sample").name == name, header  # what layout="auto" chooses
    assert LAYOUTS[name].detect(header)
    for other in LAYOUTS.detection_order():
        if other.name != name and other.detect is not None and not other.fallback:
            assert not other.detect(header), (other.name, header)


def test_each_table_layout_detects_its_own_sample_headers_and_not_the_others(sample_headers):
    for name, headers in sample_headers.items():
        for header in headers:
            _assert_detects_only_its_own(name, header)


def test_every_registered_layout_detects_its_example_headers_and_no_other_claims_them():
    """Registry-driven: a new layout module is checked here without editing this file."""
    for name, layout in LAYOUTS.items():
        if layout.detect is None:
            continue
        assert layout.example_headers, f"layout {name!r} detects headers but gives no example_headers"
        for header in layout.example_headers:
            _assert_detects_only_its_own(name, list(header))


def test_each_folder_layout_claims_its_own_folder_and_not_the_others(demo_folders):
    folder_layouts = {name: lay for name, lay in LAYOUTS.items() if lay.detect_folder is not None}
    assert set(folder_layouts) == {"generic", "olist"}
    for name, folder in demo_folders.items():
        claimed = [
            lay.name for lay in LAYOUTS.detection_order() if lay.detect_folder and lay.detect_folder(folder)
        ]
        assert claimed == [name]
        assert read_dataset(folder).layout == name


def test_an_unrecognised_header_names_every_layout():
    with pytest.raises(ParameterError, match="could not recognise the layout") as caught:
        detect_layout(["a", "b"], {}, "x.csv")
    for layout in LAYOUTS.values():
        if not layout.fallback:
            assert f"layout={layout.name!r} reads {layout.description}" in caught.value.hint
    assert detect_layout(["a", "b"], {"customer_id": "a"}, "x.csv").name == "generic"  # a mapping: fallback


def test_names_aliases_and_read_go_through_the_registry(online_retail_i_path):
    assert get_layout("online_retail_i") is LAYOUTS["online_retail"]
    with pytest.raises(ParameterError, match="unknown layout 'olis'") as caught:
        get_layout("olis")
    assert "did you mean 'olist'" in caught.value.hint
    with pytest.raises(ParameterError, match="'auto' is not a layout"):
        get_layout("auto")
    via_layout = LAYOUTS["online_retail"].read(online_retail_i_path)
    pd.testing.assert_frame_equal(via_layout.transactions, read_dataset(online_retail_i_path).transactions)


def test_a_registry_refuses_clashing_or_empty_layouts():
    registry = LayoutRegistry()
    table = Layout(
        name="shop",
        title="Shop",
        description="a shop",
        aliases=("store",),
        map_columns=lambda header, columns, where: {},
    )
    registry.register(table)
    for clash in (
        table,
        Layout(name="store", title="S", description="s", map_columns=lambda header, columns, where: {}),
    ):
        with pytest.raises(SchemaError, match="already registered"):
            registry.register(clash)
    registry.register(
        Layout(
            name="shop", title="Shop 2", description="a shop", map_columns=lambda header, columns, where: {}
        ),
        replace=True,
    )
    assert registry["shop"].title == "Shop 2" and registry.aliases() == {}
    with pytest.raises(SchemaError, match="needs map_columns or read_folder"):
        registry.register(Layout(name="nothing", title="N", description="n"))
    for bad_name in ("auto", "Shop", "my-shop"):
        with pytest.raises(SchemaError, match="must be lower case"):
            registry.register(
                Layout(
                    name=bad_name, title="x", description="x", map_columns=lambda header, columns, where: {}
                )
            )
    assert registry.unregister("shop").title == "Shop 2" and len(registry) == 0


# --------------------------------------------------------------------------- a new layout is one file
#: A Shopify-like orders export: the whole layout is this module, written in a folder of its own.
TOY_LAYOUT_MODULE = '''
"""A Shopify-like orders export: order name, e-mail, creation time, total (USD)."""

from segkit.io.canonical import complete_mapping
from segkit.io.registry import Layout

COLUMNS = {"order_id": "Name", "customer_id": "Email", "order_date": "Created at", "amount": "Total"}


def _map_columns(header, columns, where):
    return complete_mapping({**COLUMNS, **columns}, header, where)


LAYOUT = Layout(
    name="toy_shop_orders",
    title="Toy Shop",
    description="a toy shop's orders export",
    currency="USD",
    detect=lambda header: set(COLUMNS.values()) <= set(header),
    map_columns=_map_columns,
    date_formats=("%Y-%m-%d %H:%M:%S %z",),
    example_headers=(("Name", "Email", "Financial Status", "Created at", "Total", "Currency"),),
)
'''


@pytest.fixture
def toy_layout(tmp_path, monkeypatch):
    """The toy layout as one new module of :mod:`segkit.io.layouts` (its folder added to the package path)."""
    folder = tmp_path / "more_layouts"
    folder.mkdir()
    (folder / "toy_shop_orders.py").write_text(textwrap.dedent(TOY_LAYOUT_MODULE))
    monkeypatch.setattr(layouts_package, "__path__", [*layouts_package.__path__, str(folder)])
    added = layouts_package.register_package_layouts()
    yield added
    for layout in added:
        LAYOUTS.unregister(layout.name)
    sys.modules.pop("segkit.io.layouts.toy_shop_orders", None)


def _write_orders(path: Path) -> Path:
    rows = [
        {
            "Name": f"#{1000 + i}",
            "Email": f"c{i % 12}@example.com",
            "Created at": f"2024-0{i % 6 + 1}-1{i % 9} 10:0{i % 10}:00 -0500",
            "Total": f"{10 + i * 1.5:.2f}",
            "Financial Status": "paid",
        }
        for i in range(40)
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_new_layout_module_works_in_every_entry_point(toy_layout, tmp_path, capsys, monkeypatch):
    assert [layout.name for layout in toy_layout] == ["toy_shop_orders"]
    assert LAYOUTS.names()[-1] == "toy_shop_orders"
    test_every_registered_layout_detects_its_example_headers_and_no_other_claims_them()
    orders = _write_orders(tmp_path / "orders_export.csv")

    auto = read_dataset(orders)  # recognised by its header, before the generic fallback
    assert auto.layout == "toy_shop_orders"
    tx = auto.transactions
    assert list(tx.columns) == ["customer_id", "order_id", "order_date", "amount"]
    assert tx["customer_id"].iloc[1] == "c1@example.com" and tx["order_id"].iloc[0] == "#1000"
    assert tx["order_date"].iloc[0] == pd.Timestamp("2024-01-10 10:00")  # local wall time kept
    assert tx["amount"].sum() == pytest.approx(sum(10 + i * 1.5 for i in range(40)))
    explicit = sio.read_transactions(orders, layout="toy_shop_orders")
    pd.testing.assert_frame_equal(explicit, tx)
    frame = sio.read_transactions(pd.read_csv(orders, dtype=str))
    pd.testing.assert_frame_equal(frame, tx)
    assert resolve_currency("", "toy_shop_orders") == "USD"

    # the command line: a choice of --layout; segkit run reads and cleans the file with it first
    calls = []

    def fake_run(data, **options):
        calls.append((data, options))
        return report.RunResult(run=options["run"], processed=tmp_path / "p", reports=tmp_path / "r")

    monkeypatch.setattr(report, "run_notebooks", fake_run)
    assert cli.main(["run", "--data", str(orders), "--layout", "toy_shop_orders", "--no-progress"]) == 0
    [(data, options)] = calls
    assert options["layout"] == "toy_shop_orders" and options["validated"] is True
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "toy_shop_orders: a toy shop's orders export" in help_text and "Toy Shop USD" in help_text


def test_without_the_module_the_toy_layout_is_unknown(tmp_path):
    orders = _write_orders(tmp_path / "orders_export.csv")
    assert "toy_shop_orders" not in LAYOUTS
    with pytest.raises(ParameterError, match="unknown layout 'toy_shop_orders'"):
        read_dataset(orders, layout="toy_shop_orders")
    assert (
        read_dataset(
            orders, columns={"customer_id": "Email", "order_date": "Created at", "amount": "Total"}
        ).layout
        == "generic"
    )


def test_layout_modules_are_plug_ins():
    """Only ``segkit/io/__init__.py`` imports the layouts package; no layout module imports another."""
    import ast

    package = Path(sio.__file__).parent
    layout_names = {p.stem for p in (package / "layouts").glob("*.py") if p.stem != "__init__"}
    assert set(BUILT_IN) <= layout_names
    for path in package.rglob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        from_layouts = {m for m in imported if m.startswith("segkit.io.layouts")}
        if path.parent.name == "layouts":
            assert not from_layouts, (
                f"{path.name} imports {from_layouts}: layouts must not depend on each other"
            )
        elif path.name != "__init__.py":
            assert not from_layouts, f"{path.name} imports {from_layouts}: only segkit.io's __init__ may"


# --------------------------------------------------------------------------- plans for the engines
def _plan_cases(samples_dir: Path, demo_folders: dict[str, Path], tmp_path: Path) -> list[tuple[Path, dict]]:
    partitioned = tmp_path / "partitioned"
    frame = pd.read_parquet(demo_folders["generic"] / "transactions.parquet")
    frame.assign(year=frame["order_date"].dt.year).to_parquet(partitioned, partition_cols=["year"])
    cdnow = {"layout": "generic", "sep": "whitespace", "header": False, "date_format": "%Y%m%d"}
    cdnow["columns"] = {"customer_id": "1", "order_date": "2", "amount": "4"}
    return [
        (samples_dir / "online_retail_II_sample.csv", {}),
        (samples_dir / "online_retail_I_layout_sample.csv", {"layout": "online_retail_i"}),
        (samples_dir / "CDNOW_sample.txt", cdnow),
        (demo_folders["generic"] / "transactions.parquet", {}),
        (partitioned, {}),
    ]


def test_a_table_plan_is_what_read_dataset_reads(samples_dir, demo_folders, tmp_path):
    for path, options in _plan_cases(samples_dir, demo_folders, tmp_path):
        plan = plan_table(path, **options)
        dataset = read_dataset(path, **options)
        assert plan.layout.name == dataset.layout, path.name
        read_columns = set(dataset.transactions.columns)
        assert set(plan.columns) <= read_columns and read_columns - set(plan.columns) <= {"amount"}
        assert set(plan.columns.values()) <= set(plan.header)
        assert plan.columns["order_date"] in plan.text_columns
        assert plan.columns["customer_id"] in plan.text_columns
    assert "year" in plan_table(tmp_path / "partitioned").header  # partition keys are columns


def test_a_table_plan_refuses_folder_layouts_and_unknown_options(demo_folders, samples_dir):
    with pytest.raises(ParameterError, match="reads a folder of Olist CSV files, not a single file"):
        plan_table(demo_folders["generic"] / "transactions.parquet", layout="olist")
    with pytest.raises(TypeError, match="unknown reader option"):
        plan_table(samples_dir / "online_retail_II_sample.csv", delimiter=",")
