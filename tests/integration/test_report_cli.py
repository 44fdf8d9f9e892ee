"""`civitai-sync report ...` against a real warehouse file."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.app import cli
from tests.support.handmade_warehouse import build_handmade_warehouse


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("CIVITAI_SYNC_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_handmade_warehouse(tmp_path_factory.mktemp("template") / "warehouse.duckdb")


@pytest.fixture()
def built(data_dir: Path, template: Path) -> Path:
    target = data_dir / "warehouse.duckdb"
    shutil.copyfile(template, target)
    return target


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


def test_missing_warehouse_is_one_line_saying_what_to_run(data_dir: Path) -> None:
    code, out, err = run("moderation")
    assert code == 1
    assert out == ""
    assert err.strip().splitlines() == [
        f"Error: No warehouse at {data_dir / 'warehouse.duckdb'}. Run `civitai-sync sync` "
        "(or `make demo`) to build it."
    ]


def test_flagged_as_json(built: Path) -> None:
    code, out, _ = run("flagged", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["csam_threshold_pct"] == 50.0
    jobs = document["sections"]["rpt_flagged_jobs"]
    assert [j["job_id"] for j in jobs] == ["jf", "jc1", "ja"]
    assert jobs[2]["csam_scores_pct"] == [0.0, 50.0]
    assert jobs[0]["created_at"] == "2026-11-02T01:00:00+00:00"


def test_threshold_option_changes_the_flagged_list(built: Path) -> None:
    code, out, _ = run("flagged", "--format", "json", "--threshold", "90")
    assert code == 0
    assert [j["job_id"] for j in json.loads(out)["sections"]["rpt_flagged_jobs"]] == ["jc1"]


def test_usage_as_csv_is_the_main_table_for_the_range(built: Path) -> None:
    code, out, _ = run("usage", "--format", "csv", "--from", "2026-11-02", "--to", "2026-11-02")
    assert code == 0
    records = list(csv.DictReader(io.StringIO(out)))
    assert [(r["day"], r["workflows"], r["success_ratio"], r["buzz_net"]) for r in records] == [
        ("2026-11-02", "2", "0.0", "0"),
    ]


def test_moderation_table_shows_every_provider_and_the_threshold(built: Path) -> None:
    code, out, _ = run("moderation", "--to", "2026-11-01")
    assert code == 0
    assert "CSAM threshold 50 %" in out
    for text in ("(all)", "(unknown)", "RunPods", "ValdiAI", "66.7%", "vlm_summary", "No_Child"):
        assert text in out
    assert "2026-11-02" not in out


def test_usage_table_prints_every_section(built: Path) -> None:
    code, out, _ = run("usage")
    assert code == 0
    for title in ("Workflows, success ratio", "Buzz spent net of refunds", "Top users"):
        assert title in out
    assert "imageGen+imageUpscaler" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["usage", "--from", "2026-11-05", "--to", "2026-11-01"],
            "--from 2026-11-05 is after --to",
        ),
        (["flagged", "--threshold", "150"], "150"),
        (["usage", "--from", "yesterday"], "yesterday"),
        (["usage", "--threshold", "10"], "No such option '--threshold'"),
    ],
)
def test_bad_options_are_usage_errors(built: Path, args: list[str], message: str) -> None:
    code, _, err = run(*args)
    assert code == 2
    assert message in err


def test_a_warehouse_without_report_tables_says_how_to_rebuild(data_dir: Path) -> None:
    import duckdb

    duckdb.connect(str(data_dir / "warehouse.duckdb")).close()
    code, _, err = run("flagged")
    assert code == 1
    assert "has no table rpt_flagged_jobs" in err and "civitai-sync sync" in err


def test_models_lists_every_model(built: Path) -> None:
    code, out, _ = run("models")
    assert code == 0
    assert "rpt_moderation_daily" in out and "stg_workflows" in out
