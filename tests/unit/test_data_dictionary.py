"""docs/data-dictionary.md is generated; it must equal a fresh render of this checkout."""

from __future__ import annotations

from pipeline.warehouse.dictionary import DICTIONARY_PATH, render_data_dictionary
from pipeline.warehouse.models import CORE_TABLES, discover_models


def test_committed_dictionary_matches_a_fresh_render() -> None:
    fresh = render_data_dictionary()
    committed = DICTIONARY_PATH.read_text(encoding="utf-8")
    assert committed == fresh, (
        "docs/data-dictionary.md is stale: run `python -m pipeline.warehouse.dictionary`"
    )


def test_dictionary_documents_every_table_with_its_columns() -> None:
    text = DICTIONARY_PATH.read_text(encoding="utf-8")
    for table in (*CORE_TABLES, *(m.name for m in discover_models())):
        section = text.split(f"\n### {table}\n", 1)
        assert len(section) == 2, f"no section for {table}"
        body = section[1].split("\n### ", 1)[0]
        assert "| `" in body, f"{table} lists no columns"
    assert "| `csam_threshold` | 50.0 |" in text


def test_dictionary_gives_each_column_its_unit_and_meaning() -> None:
    text = DICTIONARY_PATH.read_text(encoding="utf-8")
    flagged = text.split("\n### rpt_flagged_jobs\n", 1)[1].split("\n### ", 1)[0]
    row = next(line for line in flagged.splitlines() if line.startswith("| `csam_score_max_pct`"))
    assert row.startswith("| `csam_score_max_pct` | DOUBLE | percent 0-100 | The highest")
    assert "NULL" in row
    core = text.split("\n### scan_scores\n", 1)[1].split("\n### ", 1)[0]
    assert "| `score` | DOUBLE | double | percent 0-100 |" in core
