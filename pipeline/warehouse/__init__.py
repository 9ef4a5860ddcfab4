"""The warehouse: the DuckDB connection, the staging and audit schema, the SQL models' runner, the run lock."""
