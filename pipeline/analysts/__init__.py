"""For analysts: the published read-only copy, `tuoyu sql`, and CSV/JSON/XLSX export."""
