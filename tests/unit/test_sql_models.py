"""SQL model discovery, dependency parsing, build order and error naming."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline.core.errors import ModelBuildError, ModelGraphError
from pipeline.warehouse.build import build_models
from pipeline.warehouse.models import (
    CATALOG_TABLE,
    CORE_TABLES,
    LAYERS,
    SQL_DIR,
    discover_models,
    models_using,
    toposort,
)


def write_model(root: Path, layer: str, name: str, body: str, grain: str = "id") -> Path:
    path = root / layer / f"{name}.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"-- purpose: test model {name}.\n-- grain: {grain}\n{body}\n", encoding="utf-8"
    )
    return path


def deps_of(tmp_path: Path, body: str) -> tuple[str, ...]:
    write_model(tmp_path / "sql", "staging", "stg_x", body)
    return discover_models(tmp_path / "sql")[0].deps


# --- the project's own models -------------------------------------------------------------


def test_every_model_declares_purpose_grain_and_a_known_layer() -> None:
    models = discover_models()
    assert len(models) >= 20
    for model in models:
        assert model.layer in LAYERS, model.display_path
        assert model.description and model.grain, model.display_path
        assert model.path.stem == model.name


def test_layers_read_only_one_layer_down() -> None:
    # staging reads core tables; intermediate models read staging (and each other); marts
    # read staging, intermediate (and other marts); reports read marts (and other reports).
    # Nothing reaches past the layers below it into the core tables, and reports read facts.
    allowed = {
        "staging": set(CORE_TABLES),
        "intermediate": {"staging", "intermediate"},
        "marts": {"staging", "intermediate", "marts"},
        "reports": {"marts", "reports"},
    }
    layer_of = {m.name: m.layer for m in discover_models()}
    for model in discover_models():
        if model.layer == "staging":
            assert set(model.deps) <= allowed["staging"], model.name
        else:
            assert model.source_deps == (), model.name
            assert {layer_of[d] for d in model.model_deps} <= allowed[model.layer], model.name


def test_models_follow_the_house_style() -> None:
    uppercase_keyword = re.compile(r"\b(SELECT|FROM|WHERE|JOIN|GROUP BY|ORDER BY|WITH|AS)\b")
    for path in sorted(SQL_DIR.glob("*/*.sql")):
        text = path.read_text(encoding="utf-8")
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        assert not uppercase_keyword.search(code), f"{path.name}: SQL is written in lowercase"
        assert code.lstrip().startswith("with"), f"{path.name}: import CTEs come first"
        assert "\nfinal as (" in code, f"{path.name}: the last CTE is `final`"
        assert re.search(r"\nselect \* from final\s*(\norder by [^\n]+)?\s*$", code), path.name


def test_discovered_order_builds_every_dependency_first() -> None:
    seen: set[str] = set()
    for model in discover_models():
        assert set(model.model_deps) <= seen, model.name
        seen.add(model.name)


def test_threshold_dependent_models_are_known() -> None:
    using = models_using(discover_models(), "csam_threshold")
    assert {"rpt_flagged_jobs", "rpt_moderation_daily", "rpt_user_history"} <= using
    # Marts never depend on the threshold, so a report can be recomputed for another one.
    assert not any(name.startswith(("fct_", "dim_", "stg_")) for name in using)


# --- dependency parsing ---------------------------------------------------------------------


def test_ctes_are_not_dependencies_but_every_table_read_is(tmp_path: Path) -> None:
    body = """
    with
    a as (select * from workflows),
    b as (select * from a join steps using (workflow_id))
    select * from b
    where exists (select 1 from jobs where jobs.workflow_id = b.workflow_id)
    union all
    select * from (select * from main.blobs) as sub
    """
    assert deps_of(tmp_path, body) == ("blobs", "jobs", "steps", "workflows")


def test_a_cte_named_like_a_table_still_reads_the_table_in_its_own_body(tmp_path: Path) -> None:
    body = "with workflows as (select * from workflows) select * from workflows"
    assert deps_of(tmp_path, body) == ("workflows",)


def test_a_cte_is_not_visible_outside_the_subquery_that_defines_it(tmp_path: Path) -> None:
    body = "select * from (with steps as (select 1 as id) select * from steps), steps"
    assert deps_of(tmp_path, body) == ("steps",)


def test_recursive_cte_and_table_functions_are_not_dependencies(tmp_path: Path) -> None:
    body = """
    with recursive r as (select 1 as id union all select id + 1 from r where id < 3)
    select r.id from r, range(3) as t(n)
    """
    assert deps_of(tmp_path, body) == ()


def test_parameters_are_read_from_getvariable_calls(tmp_path: Path) -> None:
    write_model(tmp_path / "sql", "staging", "stg_x", "select getvariable('csam_threshold') as id")
    assert discover_models(tmp_path / "sql")[0].params == ("csam_threshold",)


def test_reads_of_other_models_and_core_tables_are_split(tmp_path: Path) -> None:
    write_model(tmp_path / "sql", "staging", "stg_a", "select workflow_id as id from workflows")
    write_model(tmp_path / "sql", "marts", "fct_a", "select id from stg_a join jobs on true")
    fct = {m.name: m for m in discover_models(tmp_path / "sql")}["fct_a"]
    assert fct.model_deps == ("stg_a",)
    assert fct.source_deps == ("jobs",)


# --- ordering and graph errors --------------------------------------------------------------


def test_models_are_ordered_upstream_first_whatever_their_names(tmp_path: Path) -> None:
    write_model(tmp_path / "sql", "reports", "a_report", "select id from z_mart")
    write_model(tmp_path / "sql", "marts", "z_mart", "select id from b_stage")
    write_model(tmp_path / "sql", "staging", "b_stage", "select workflow_id as id from workflows")
    assert [m.name for m in discover_models(tmp_path / "sql")] == ["b_stage", "z_mart", "a_report"]


def test_a_cycle_is_reported_with_the_files_in_it(tmp_path: Path) -> None:
    write_model(tmp_path / "sql", "marts", "fct_a", "select id from fct_b")
    write_model(tmp_path / "sql", "marts", "fct_b", "select id from fct_a")
    with pytest.raises(ModelGraphError, match=r"cycle: .*fct_a\.sql -> .*fct_b\.sql"):
        discover_models(tmp_path / "sql")


def test_an_unknown_table_names_the_file_and_the_table(tmp_path: Path) -> None:
    write_model(tmp_path / "sql", "marts", "fct_a", "select * from stg_wrokflows")
    with pytest.raises(ModelGraphError, match=r"sql/marts/fct_a\.sql reads 'stg_wrokflows'"):
        discover_models(tmp_path / "sql")


def test_two_files_with_the_same_name_are_refused(tmp_path: Path) -> None:
    write_model(tmp_path / "sql", "staging", "dup", "select 1 as id")
    write_model(tmp_path / "sql", "marts", "dup", "select 1 as id")
    with pytest.raises(ModelGraphError, match="Two SQL models are named 'dup'"):
        discover_models(tmp_path / "sql")


def test_toposort_takes_models_outside_the_list_as_built() -> None:
    models = {m.name: m for m in discover_models()}
    chosen = [models["rpt_flagged_jobs"], models["fct_jobs"]]
    assert [m.name for m in toposort(chosen)] == ["fct_jobs", "rpt_flagged_jobs"]


# --- file-level errors ----------------------------------------------------------------------


def test_a_syntax_error_names_the_file_line_and_duckdb_message(tmp_path: Path) -> None:
    write_model(tmp_path / "sql", "staging", "stg_x", "with a as (select 1 as id)\nselec * from a")
    with pytest.raises(
        ModelBuildError,
        match=r"sql/staging/stg_x\.sql: DuckDB cannot parse it: syntax error.*\(line 4\)",
    ):
        discover_models(tmp_path / "sql")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # no header at all
        ("select 1 as id", "must start with `-- purpose: ...` and `-- grain: ...`"),
        # grain that is prose, not columns
        ("-- purpose: p\n-- grain: one row per thing!\nselect 1", "must list column names"),
        # not a select
        ("-- purpose: p\n-- grain: id\ncreate table t as select 1", "only a select statement"),
        # two statements
        ("-- purpose: p\n-- grain: id\nselect 1; select 2", "exactly one select statement"),
    ],
)
def test_malformed_files_are_refused_with_their_name(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "sql" / "staging" / "stg_x.sql"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelBuildError, match=re.escape(message)) as info:
        discover_models(tmp_path / "sql")
    assert "sql/staging/stg_x.sql" in str(info.value)


def test_a_model_may_not_take_a_core_table_name(tmp_path: Path) -> None:
    write_model(tmp_path / "sql", "staging", "workflows", "select 1 as id")
    with pytest.raises(ModelBuildError, match="cannot be a model name"):
        discover_models(tmp_path / "sql")


# --- building -------------------------------------------------------------------------------


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("create table workflows (workflow_id varchar, score double)")
    connection.execute("insert into workflows values ('a', 10), ('b', 60), ('c', 90)")
    return connection


def test_build_creates_each_table_and_records_it(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_model(
        tmp_path / "sql", "staging", "stg_w", "select workflow_id as id, score from workflows"
    )
    write_model(
        tmp_path / "sql",
        "reports",
        "rpt_high",
        "select id from stg_w where score >= getvariable('csam_threshold')",
    )
    results = build_models(con, discover_models(tmp_path / "sql"), {"csam_threshold": 50})
    # A staging model is a view (nothing copied, no count); a model with parameters is a
    # table that keeps the rows they were built with.
    assert [(r.name, r.rows) for r in results] == [("stg_w", None), ("rpt_high", 2)]
    assert con.execute("select id from rpt_high order by id").fetchall() == [("b",), ("c",)]
    recorded = con.execute(
        f"select name, params_json, row_count, materialized from {CATALOG_TABLE} order by name"
    ).fetchall()
    assert recorded == [
        ("rpt_high", '{"csam_threshold": 50}', 2, "table"),
        ("stg_w", "{}", None, "view"),
    ]
    kinds = dict(
        con.execute(
            "select table_name, table_type from information_schema.tables "
            "where table_name in ('stg_w', 'rpt_high')"
        ).fetchall()
    )
    assert kinds == {"stg_w": "VIEW", "rpt_high": "BASE TABLE"}


def test_a_day_grained_model_recomputes_only_the_changed_days(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("create table workflows (workflow_id varchar, window_date date)")
    con.execute(
        "insert into workflows values ('a', '2026-01-01'), ('b', '2026-01-02'), ('c', '2026-01-02')"
    )
    write_model(
        tmp_path / "sql",
        "reports",
        "rpt_daily",
        "select window_date as day, count(*) as workflows from workflows group by 1",
        grain="day",
    )
    models = discover_models(tmp_path / "sql")
    assert models[0].materialized == "incremental"
    build_models(con, models)
    # Both days change in the source; only the second is said to have changed.
    con.execute("insert into workflows values ('d', '2026-01-01'), ('e', '2026-01-02')")
    (result,) = build_models(con, models, changed_days=[date(2026, 1, 2)])
    assert result.days == 1
    rows = con.execute("select day, workflows from rpt_daily order by day").fetchall()
    assert rows == [(date(2026, 1, 1), 1), (date(2026, 1, 2), 3)]
    # A day that disappeared from the source loses its rows.
    con.execute("delete from workflows where window_date = '2026-01-02'")
    build_models(con, models, changed_days=[date(2026, 1, 2)])
    assert con.execute("select day from rpt_daily").fetchall() == [(date(2026, 1, 1),)]
    # Without changed days (a full publish) every day is recomputed.
    build_models(con, models)
    assert con.execute("select workflows from rpt_daily").fetchall() == [(2,)]


def test_a_changed_model_is_rebuilt_whole_even_when_few_days_changed(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("create table workflows (workflow_id varchar, window_date date)")
    con.execute("insert into workflows values ('a', '2026-01-01'), ('b', '2026-01-02')")
    sql = "select window_date as day, count(*) as workflows from workflows group by 1"
    write_model(tmp_path / "sql", "reports", "rpt_daily", sql, grain="day")
    build_models(con, discover_models(tmp_path / "sql"))
    write_model(
        tmp_path / "sql",
        "reports",
        "rpt_daily",
        sql.replace("count(*)", "count(*) * 10"),
        grain="day",
    )
    build_models(con, discover_models(tmp_path / "sql"), changed_days=[])
    assert con.execute("select workflows from rpt_daily order by day").fetchall() == [(10,), (10,)]


def test_the_threshold_is_a_parameter_not_an_edit(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_model(
        tmp_path / "sql",
        "reports",
        "rpt_high",
        "select workflow_id as id from workflows where score >= getvariable('csam_threshold')",
    )
    models = discover_models(tmp_path / "sql")
    build_models(con, models)  # the default threshold, 50
    assert con.execute("select count(*) from rpt_high").fetchone() == (2,)
    build_models(con, models, {"csam_threshold": 85})
    assert con.execute("select count(*) from rpt_high").fetchone() == (1,)


def test_a_typo_fails_with_the_file_name_and_duckdb_error_and_keeps_nothing(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_model(tmp_path / "sql", "staging", "stg_w", "select workflow_id as id from workflows")
    write_model(tmp_path / "sql", "marts", "fct_w", "select idd from stg_w")
    with pytest.raises(ModelBuildError) as info:
        build_models(con, discover_models(tmp_path / "sql"))
    message = str(info.value)
    assert "sql/marts/fct_w.sql" in message
    assert 'Binder Error: Referenced column "idd" not found' in message
    assert info.value.model == "fct_w"
    # The whole build is one transaction: the model built before the failure is gone too.
    tables = {row[0] for row in con.execute("show tables").fetchall()}
    assert tables == {"workflows"}


def test_an_unknown_parameter_is_refused_before_building(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_model(tmp_path / "sql", "staging", "stg_w", "select getvariable('no_such_knob') as id")
    with pytest.raises(
        ModelBuildError, match=r"getvariable\('no_such_knob'\) but no such parameter"
    ):
        build_models(con, discover_models(tmp_path / "sql"))
