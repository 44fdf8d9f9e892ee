"""The DuckDB warehouse: core tables from the lake, then every SQL model of `sql/`.

The warehouse file is published atomically (built aside, then renamed into place), so its core
tables and all its models are one op: one AssetSpec per SQL model, all materialized together
(`can_subset=False`), because a model cannot be rebuilt alone into a file that is only ever
replaced whole. The specs still give each model its own asset (key = model name, group = its
layer, deps read from its SQL), so lineage, metadata and checks are per table.
"""

import logging
from collections.abc import Iterator, Sequence

import dagster as dg
import duckdb

from assets.lake import LAKE_KEYS, column_schema
from assets.resources import DataDirResource, ModelParamsResource
from pipeline.core.errors import PipelineError
from pipeline.warehouse import publish as pipeline_warehouse
from pipeline.warehouse.describe import TableDoc, describe_all
from pipeline.warehouse.models import SqlModel, discover_models

WAREHOUSE_KEY = dg.AssetKey("warehouse")
WAREHOUSE_GROUP = "warehouse"

log = logging.getLogger(__name__)


def load_models() -> list[SqlModel]:
    """The SQL models of `sql/` in build order; none when they cannot be read.

    A broken model file must not take the whole code location down (the ingest assets have
    nothing to do with it): it is logged here, and the warehouse run then fails with the
    parser's message naming the file.
    """
    try:
        return discover_models()
    except PipelineError as exc:
        log.warning("SQL models not loaded, the warehouse asset builds core tables only: %s", exc)
        return []


def load_docs(models: Sequence[SqlModel]) -> dict[str, TableDoc]:
    """What each model's columns are (an empty warehouse built in memory, about 0.3 s); none
    when a model does not build, which the warehouse run then reports with DuckDB's message."""
    try:
        return describe_all(models)
    except (PipelineError, duckdb.Error) as exc:
        log.warning("SQL model columns not described: %s", " ".join(str(exc).split())[:300])
        return {}


def model_spec(model: SqlModel, doc: TableDoc | None = None) -> dg.AssetSpec:
    """One model's asset: its table name as key, its layer as group, its reads as deps, its
    columns with their descriptions and units.

    A read of a core table is a dependency on the warehouse asset (that is where the model
    reads it from); a read of another model is a dependency on that model's asset.
    """
    deps = [dg.AssetKey(dep) for dep in model.model_deps]
    if model.source_deps:
        deps.append(WAREHOUSE_KEY)
    metadata: dict[str, object] = {
        "sql_file": model.display_path,
        "grain": ", ".join(model.grain),
        "reads": ", ".join(model.deps),
    }
    if doc is not None:
        metadata["dagster/column_schema"] = column_schema(doc.columns)
    return dg.AssetSpec(
        model.name,
        deps=deps,
        description=doc.description if doc is not None else model.description,
        group_name=model.layer,
        kinds={"duckdb", "sql"},
        metadata=metadata,
    )


MODELS = load_models()
DOCS = load_docs(MODELS)


WAREHOUSE_SPEC = dg.AssetSpec(
    WAREHOUSE_KEY,
    deps=LAKE_KEYS,
    description="DATA_DIR/warehouse.duckdb with the lake's tables (jobs joined to their "
    "job_details) and the sync ledger as `sync_windows`; every day of the lake, published "
    "atomically.",
    group_name=WAREHOUSE_GROUP,
    kinds={"duckdb"},
)
MODEL_SPECS = [model_spec(model, DOCS.get(model.name)) for model in MODELS]


@dg.multi_asset(
    name="build_warehouse",
    specs=[WAREHOUSE_SPEC, *MODEL_SPECS],
    can_subset=False,
)
def build_warehouse(
    context: dg.AssetExecutionContext, data: DataDirResource, model_params: ModelParamsResource
) -> Iterator[dg.MaterializeResult]:
    """Rebuild the warehouse from every window of the lake and publish it atomically.

    Unpartitioned on purpose: the warehouse is a view of the whole lake, and rebuilding it
    from Parquet takes seconds, so one rebuild after a nightly sync or a backfill of many days
    beats keeping it in step partition by partition. An analyst holding the old file open is
    never blocked and never sees half a load.
    """
    settings = data.settings()
    published = pipeline_warehouse.publish_warehouse(
        settings, build_models=True, params=model_params.params()
    )
    core = published.tables
    models = {m.name: m for m in published.models}
    context.log.info(
        f"published {published.path} in {published.seconds:.1f}s: "
        + ", ".join(f"{table} {rows}" for table, rows in core.items())
        + f"; {len(models)} SQL models"
    )
    yield dg.MaterializeResult(
        asset_key=WAREHOUSE_KEY,
        metadata={
            "path": dg.MetadataValue.path(str(published.path)),
            **{f"rows_{table}": rows for table, rows in core.items()},
            "seconds": dg.MetadataValue.float(float(published.seconds)),
            "csam_threshold": model_params.csam_threshold,
        },
    )
    for spec in MODEL_SPECS:
        name = spec.key.path[-1]
        built = models.get(name)
        if built is None:
            # The model file was removed or renamed after the code location loaded.
            raise dg.Failure(
                f"SQL model {name} was not built: its file is gone; reload the code location."
            )
        yield dg.MaterializeResult(
            asset_key=spec.key,
            metadata={
                "rows": built.rows,
                "dagster/row_count": built.rows,
                "seconds": dg.MetadataValue.float(float(built.seconds)),
            },
        )
