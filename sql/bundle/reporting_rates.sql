-- bundle: reporting_rates.parquet (docs/rollup.md section 1)
-- grain: one row per extract kind × month × window length, as marts.reporting_rates
-- reads: marts.reporting_rates
--
-- Completeness and timeliness of the county's deliveries, as they are.

select
    kind,
    period,
    window_months,
    first_period,
    expected,
    received,
    on_time,
    late,
    backfilled,
    missing,
    received_rate,
    on_time_rate
from marts.reporting_rates
order by period, kind, window_months
