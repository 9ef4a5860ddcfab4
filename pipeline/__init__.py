"""tuoyu: monthly childcare-services statistics for a county."""
