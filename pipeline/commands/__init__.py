"""The `tuoyu` console command: run, status, fix, report, sql, sample, demo, dev."""
