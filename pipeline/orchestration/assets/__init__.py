"""Dagster assets: thin wrappers over the plain modules, grouped by stage."""
