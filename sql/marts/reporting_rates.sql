-- grain: one row per extract kind × month of the calendar × window length (reference.quality_parameters.reporting_windows)
-- materialized: table
-- depends_on: marts.month_calendar, audit.load_log, audit.current_files, reference.quality_parameters
-- owner: quality
--
-- Completeness and timeliness of the deliveries (WHO Data Quality Review; docs/quality.md),
-- per kind over the window of `window_months` months ending at `period` (months before the
-- first month of the calendar are not expected, so early windows are shorter):
--   expected    months in the window
--   received    months with a loaded file (a current version; a file rejected whole is
--               not a delivery)
--   on_time     received months first seen by the pipeline on or before day N of the next
--               month (N = reporting_deadline_day, 10 by default), by the date of loaded_at
--   late        received months first seen after that day
--   backfilled  received months whose deadline had passed before the pipeline first saw any
--               file (its first run against this warehouse): loaded in the backfill of
--               history, so counted as received but neither on time nor late
--               (docs/decisions.md)
--   missing     expected − received
-- "First seen" is the earliest loaded_at of any version of the kind × month that could be
-- read (loaded, superseded or unchanged; a rejected file is not a delivery).
-- received_rate = 100 × received ÷ expected; on_time_rate = 100 × on_time ÷ (expected −
-- backfilled), NULL when every month of the window was backfilled.

with parameters as (

    select reporting_deadline_day, reporting_windows
    from reference.quality_parameters

),

calendar as (

    select period, month_start, month_index
    from marts.month_calendar

),

kinds as (

    select kind, kind_order
    from (values ('institutions', 1), ('enrollment', 2), ('staffing', 3)) as kinds (kind, kind_order)

),

pipeline_start as (

    select cast(min(loaded_at) as date) as first_run_date
    from audit.load_log

),

first_seen as (

    select kind, period, min(loaded_at) as first_seen_at
    from audit.load_log
    where kind is not null
      and period is not null
      and status in ('loaded', 'superseded', 'unchanged')
    group by kind, period

),

current_versions as (

    select distinct kind, period
    from audit.current_files

),

kind_months as (

    select
        kinds.kind,
        kinds.kind_order,
        calendar.period,
        calendar.month_index,
        cast(calendar.month_start + interval 1 month
             + (parameters.reporting_deadline_day - 1) * interval 1 day as date) as deadline,
        current_versions.kind is not null as received,
        first_seen.first_seen_at,
        pipeline_start.first_run_date
    from calendar
    cross join kinds
    cross join parameters
    cross join pipeline_start
    left join current_versions
        on current_versions.kind = kinds.kind
        and current_versions.period = calendar.period
    left join first_seen
        on first_seen.kind = kinds.kind
        and first_seen.period = calendar.period

),

judged as (

    select
        kind,
        kind_order,
        period,
        month_index,
        received,
        case
            when not received then 'missing'
            when deadline < first_run_date then 'backfilled'
            when cast(first_seen_at as date) <= deadline then 'on_time'
            else 'late'
        end as timeliness
    from kind_months

),

windows as (

    select unnest(reporting_windows) as window_months
    from parameters

),

counted as (

    select
        window_end.kind,
        window_end.kind_order,
        window_end.period,
        windows.window_months,
        min(judged.period) as first_period,
        count(*) as expected,
        count(*) filter (where judged.received) as received,
        count(*) filter (where judged.timeliness = 'on_time') as on_time,
        count(*) filter (where judged.timeliness = 'late') as late,
        count(*) filter (where judged.timeliness = 'backfilled') as backfilled,
        count(*) filter (where judged.timeliness = 'missing') as missing
    from judged as window_end
    cross join windows
    inner join judged
        on judged.kind = window_end.kind
        and judged.month_index between window_end.month_index - windows.window_months + 1
                                   and window_end.month_index
    group by window_end.kind, window_end.kind_order, window_end.period, windows.window_months

),

final as (

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
        100.0 * received / expected as received_rate,
        100.0 * on_time / nullif(expected - backfilled, 0) as on_time_rate,
        kind_order
    from counted

)

select * exclude (kind_order) from final
order by period, kind_order, window_months
