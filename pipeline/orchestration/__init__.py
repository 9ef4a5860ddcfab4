"""The Dagster wiring: one Definitions, its resource, assets by stage, schedule and sensor."""
