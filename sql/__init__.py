"""The SQL models, shipped inside the installed package as `pipeline.sql` (read through
importlib.resources), one model per file: core/ (core tables presented to analysts, such as
`jobs` with its v1 lookup) -> staging/ -> intermediate/ (joins shared by several marts; the
runner knows the layer, none is needed yet) -> marts/ -> reports/."""
