-- grain: one row per month, from the first to the last month with any recognised extract
-- materialized: table
-- depends_on: audit.load_log, audit.current_files
--
-- The months that marts.indicator_values reports on, and which extract kinds each one
-- has. A month inside the range without a file of some kind is still listed: the
-- indicators that need that kind are NULL for it (no data), never 0. A rejected file
-- still marks its month as delivered; an unrecognised file name has no month.

with recognised_files as (

    select period
    from audit.load_log
    where kind is not null
      and period is not null
      and status not in ('unrecognised', 'withdrawn')  -- a withdrawn delivery spans nothing

),

bounds as (

    select
        min(strptime(period, '%Y-%m'))::date as first_month_start,
        max(strptime(period, '%Y-%m'))::date as last_month_start
    from recognised_files

),

months as (

    select
        unnest(generate_series(first_month_start, last_month_start, interval 1 month))::date
            as month_start
    from bounds

),

current_kinds as (

    select
        period,
        bool_or(kind = 'institutions') as has_institutions,
        bool_or(kind = 'enrollment') as has_enrollment,
        bool_or(kind = 'staffing') as has_staffing
    from audit.current_files
    group by period

),

final as (

    select
        strftime(months.month_start, '%Y-%m') as period,
        months.month_start,
        last_day(months.month_start) as month_end,
        year(months.month_start) * 12 + month(months.month_start) - 1 as month_index,
        coalesce(current_kinds.has_institutions, false) as has_institutions,
        coalesce(current_kinds.has_enrollment, false) as has_enrollment,
        coalesce(current_kinds.has_staffing, false) as has_staffing
    from months
    left join current_kinds
        on current_kinds.period = strftime(months.month_start, '%Y-%m')

)

select * from final
order by period
