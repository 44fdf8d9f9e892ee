"""Every table and column of the lake and the warehouse says what it holds, once, with its unit.

The descriptions are written beside the lake's Arrow schemas and in the SQL files; these tests
fail when a column has none, when a description names a column that does not exist, when a
unit and a name disagree, and when the reading of a SQL file's header or lineage goes wrong.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.core.errors import ModelBuildError
from pipeline.core.settings import Settings
from pipeline.lake import tables
from pipeline.warehouse import describe, lineage, models, views
from pipeline.warehouse.publish import publish_warehouse
from pipeline.warehouse.sql_parse import read_header

PERCENT, RATIO, SECONDS, BUZZ = "percent 0-100", "ratio 0-1", "seconds", "Buzz"
# Names the design fixes (DESIGN.md's core tables): kept although they do not say their unit.
CONTRACT_NAMES = {
    ("scan_scores", "score"): PERCENT,
    ("moderation_verdicts", "score"): RATIO,
    ("workflows", "cost_base"): BUZZ,
    ("workflows", "cost_total"): BUZZ,
    ("transactions", "amount"): BUZZ,
}


@pytest.fixture(scope="module")
def docs() -> dict[str, describe.TableDoc]:
    return describe.describe_all()


def test_each_lake_schema_has_a_description_for_exactly_its_columns() -> None:
    for table, schema in tables.SCHEMAS.items():
        written = tables.COLUMNS[table]
        assert set(written) == set(schema.names), table
        assert all(text.strip() for text in written.values()), table
    assert set(views.SYNC_WINDOWS_COLUMNS) == set(views.SYNC_WINDOWS_SCHEMA.names)
    for table, renamed in tables.RENAMED.items():
        names = tables.SCHEMAS[table].names
        assert all(new in names and old not in names for new, old in renamed.items()), table


def test_every_table_and_column_of_the_warehouse_is_described(docs) -> None:
    expected = {
        *models.CORE_TABLES,
        *(f"lake.{t}" for t in tables.SCHEMAS),
        *(m.name for m in models.discover_models()),
        models.CATALOG_TABLE,
    }
    assert set(docs) == expected
    for name, doc in docs.items():
        assert doc.description.strip(), name
        assert not doc.missing, f"{name}: no description for {', '.join(doc.missing)}"
        assert not doc.unknown, f"{name}: described but not a column: {', '.join(doc.unknown)}"
        assert all(c.description.strip() for c in doc.columns), name


def test_the_described_columns_are_those_of_the_built_tables(docs) -> None:
    con = describe.empty_warehouse()
    try:
        for name, doc in docs.items():
            built = con.execute(f"describe {name}").fetchall()
            assert [(c.name, c.type) for c in doc.columns] == [(r[0], r[1]) for r in built]
    finally:
        con.close()


def _unit_of_name(table: str, column: str) -> str | None:
    bare = table.removeprefix("lake.")
    if (bare, column) in CONTRACT_NAMES:
        return CONTRACT_NAMES[(bare, column)]
    if column.endswith("_pct"):
        return PERCENT
    if column.endswith("_ratio"):
        return RATIO
    if column == "seconds" or column.endswith("_seconds"):
        return SECONDS
    if column.startswith("buzz_") or column.endswith("_buzz"):
        return BUZZ
    return None


def test_a_unit_is_said_in_the_name_and_the_description_alike(docs) -> None:
    named = {PERCENT, RATIO, SECONDS, BUZZ}
    units = {c.unit for d in docs.values() for c in d.columns} - {None}
    assert units == {*named, "pixels", "share per second"}  # one word per kind of value
    for name, doc in docs.items():
        for column in doc.columns:
            expected = _unit_of_name(name, column.name)
            if expected is not None:
                assert column.unit == expected, (name, column.name, column.unit)
            else:
                assert column.unit not in named, (name, column.name, column.unit)
    # the examples the README gives
    assert docs["fct_jobs"].column("csam_score_max_pct").unit == PERCENT  # type: ignore[union-attr]
    assert docs["rpt_moderation_daily"].column("flag_ratio").unit == RATIO  # type: ignore[union-attr]


def test_no_column_keeps_an_old_name_without_its_unit(docs) -> None:
    old = {"flag_rate", "failure_rate", "success_rate", "csam_score_max", "csam_scores",
           "score_from", "score_to", "signed_amount", "score_ratio_max", "lost_blobs_refund",
           "duration", "csam_threshold"}  # fmt: skip
    found = {(n, c.name) for n, d in docs.items() for c in d.columns if c.name in old}
    assert not found


def test_a_null_prompt_flag_has_one_meaning(docs) -> None:
    jobs = docs["jobs"]
    assert jobs.column("enrichment_status") is not None
    flag = jobs.column("prompt_sexual")
    assert flag is not None and "is_prompt_classified" in flag.description
    for name in ("fct_jobs", "rpt_flagged_jobs", "stg_jobs"):
        assert docs[name].column("is_prompt_classified") is not None, name


def write_model(root: Path, layer: str, name: str, text: str) -> None:
    folder = root / layer
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.sql").write_text(text, encoding="utf-8")


def test_a_missing_or_stray_column_description_is_found(tmp_path: Path) -> None:
    write_model(
        tmp_path,
        "staging",
        "stg_x",
        "-- purpose: a test model.\n-- grain: workflow_id\n-- columns:\n"
        "--   answr: a typo of a column that exists [seconds]\n"
        "select workflow_id, lower(status) as status, 42 as answer,\n"
        "    coalesce(user_id, 0) as user_id from workflows\n",
    )
    built = models.discover_models(tmp_path)
    doc = describe.describe_all(built)["stg_x"]
    # passed through (lower() keeps the meaning): described by workflows; computed: not
    assert doc.missing == ("answer", "user_id")
    assert doc.unknown == ("answr",)
    status = doc.column("status")
    assert status is not None and status.description.startswith("The workflow's status")


def test_the_columns_header_is_read_with_continuations_and_units() -> None:
    header = read_header(
        "-- purpose: p\n-- grain: a\n-- a note\n-- columns:\n"
        "--   a: first line\n--       and its continuation [seconds]\n--\n"
        "--   b_pct: a share [percent 0-100]\nselect 1 as a, 2 as b_pct\n"
    )
    assert header.fields == {"purpose": "p", "grain": "a"}
    assert header.notes == ("a note",)
    assert header.columns == (
        ("a", "first line and its continuation [seconds]"),
        ("b_pct", "a share [percent 0-100]"),
    )
    assert describe.split_unit(header.columns[0][1]) == (
        "first line and its continuation",
        "seconds",
    )
    assert describe.split_unit("json_path, e.g. $.images[0] here") == (
        "json_path, e.g. $.images[0] here",
        None,
    )
    with pytest.raises(ValueError, match="twice"):
        read_header("-- columns:\n--   a: x\n--   a: y\nselect 1")
    with pytest.raises(ValueError, match="ends the header"):
        read_header("-- columns:\n--   a: x\n-- purpose: late\nselect 1")


def test_a_bad_columns_block_names_the_model_file(tmp_path: Path) -> None:
    write_model(
        tmp_path,
        "staging",
        "stg_bad",
        "-- purpose: p\n-- grain: id\n-- columns:\n--   id: x\n-- a note after the block\n"
        "select 1 as id\n",
    )
    with pytest.raises(ModelBuildError, match=r"staging/stg_bad\.sql.*columns"):
        models.discover_models(tmp_path)


def passthrough(sql: str, known: dict[str, list[str]]) -> lineage.Columns:
    con = duckdb.connect()
    try:
        return lineage.passthrough(con, sql, known.get)
    finally:
        con.close()


def test_lineage_follows_passed_through_columns_only() -> None:
    known = {"t": ["a", "b", "c"], "u": ["a", "d"], "lake.jobs": ["job_id", "x"]}
    got = passthrough(
        """
        with src as (select * from t), kept as (select * from src where a > 0)
        select kept.a, b, lower(c) as c, kept.b as renamed, coalesce(u.d, 0) as d,
               u.a as a2, cast(u.d as bigint) as d2, count(*) over () as n
        from kept join u on u.a = kept.a
        """,
        known,
    )
    assert got == {
        "a": ("t", "a"),
        "b": ("t", "b"),  # unqualified: the one relation of the join that has it
        "c": ("t", "c"),  # lower() tidies a value, it does not change what it is
        "renamed": None,
        "d": None,
        "a2": None,
        "d2": None,
        "n": None,
    }
    got = passthrough("select * exclude (b) replace (1 as c) from t", known)
    assert got == {"a": ("t", "a"), "c": None}
    got = passthrough("select j.*, upper(j.x) as x from lake.jobs j", known)
    assert got == {"job_id": ("lake.jobs", "job_id"), "x": ("lake.jobs", "x")}
    got = passthrough("select a from t union all select a from u", known)
    assert got == {"a": None}
    # `a` is in both relations of the join: which one it means is not told apart
    assert passthrough("select a from t join u using (a)", known) == {"a": None}
    got = passthrough("select s.a, s.b from (select a, b + 1 as b from t) s", known)
    assert got == {"a": ("t", "a"), "b": None}


def test_the_published_warehouse_carries_every_description_as_a_comment(
    tmp_path: Path, docs
) -> None:
    settings = Settings(data_dir=tmp_path)
    for _ in range(2):  # a second publish updates the copied file: comments stay right
        publish_warehouse(settings)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        columns = {
            (f"{s}.{t}".removeprefix("main."), c): comment
            for s, t, c, comment in con.execute(
                "select schema_name, table_name, column_name, comment from duckdb_columns() "
                "where not internal and not starts_with(table_name, '_')"
            ).fetchall()
        }
        relations = dict(
            con.execute(
                "select replace(schema_name || '.' || table_name, 'main.', ''), comment "
                "from duckdb_tables() where not starts_with(table_name, '_') union all "
                "select replace(schema_name || '.' || view_name, 'main.', ''), comment "
                "from duckdb_views() where not internal"
            ).fetchall()
        )
    finally:
        con.close()
    expected = {(n, c.name): c.text for n, d in docs.items() for c in d.columns}
    assert columns == expected
    assert relations == {n: d.description for n, d in docs.items()}
    # What is already right is not written again; what a view lost when replaced is.
    with duckdb.connect(str(settings.warehouse_path)) as con:
        assert describe.comment(con, docs.values()) == 0
        con.execute("create or replace view lake.jobs as select * from lake.jobs where true")
        written = describe.comment(con, docs.values())
        assert written == 1 + len(docs["lake.jobs"].columns)
