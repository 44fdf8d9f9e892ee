"""The SQL models, shipped inside the installed package as `pipeline.sql` (read through
importlib.resources): staging/ -> intermediate/ -> marts/ -> reports/, one model per file."""
