-- bundle: data_quality.parquet (docs/rollup.md section 1)
-- grain: one row per month × kind: the three extract kinds, and 'all' for the month's data-quality flags
-- reads: marts.data_quality, marts.quality_flags
--
-- marts.data_quality without what names a file (file_path, sha256), the load status, the
-- versions received and the rule list; plus one row of kind 'all' per month carrying the
-- month's data-quality flags (marts.quality_flags): quality_flags = all of them,
-- quality_flags_open = those not yet confirmed. Flags belong to the month, not to one kind,
-- so they are on the 'all' row only: on the kind rows they are NULL, and on the 'all' row
-- the row counts are NULL. Any column summed over the rows of a month (or of many months
-- and counties) counts each row and each flag once.

with kinds as (

    select
        period,
        kind,
        file_present,
        rows_read,
        rows_accepted,
        rows_rejected,
        rows_duplicate,
        rows_warned,
        case kind when 'institutions' then 1 when 'enrollment' then 2 when 'staffing' then 3 else 4 end as kind_order
    from marts.data_quality

),

flags as (

    select
        period,
        count(*) as quality_flags,
        count(*) filter (where not confirmed) as quality_flags_open
    from marts.quality_flags
    group by period

),

months as (

    select period from kinds
    union
    select period from flags

),

final as (

    select
        period,
        kind,
        file_present,
        rows_read,
        rows_accepted,
        rows_rejected,
        rows_duplicate,
        rows_warned,
        cast(null as bigint) as quality_flags,
        cast(null as bigint) as quality_flags_open,
        kind_order
    from kinds

    union all

    select
        months.period,
        'all' as kind,
        cast(null as boolean) as file_present,
        cast(null as integer) as rows_read,
        cast(null as integer) as rows_accepted,
        cast(null as integer) as rows_rejected,
        cast(null as integer) as rows_duplicate,
        cast(null as bigint) as rows_warned,
        coalesce(flags.quality_flags, 0) as quality_flags,
        coalesce(flags.quality_flags_open, 0) as quality_flags_open,
        5 as kind_order
    from months
    left join flags on flags.period = months.period

)

select * exclude (kind_order) from final
order by period, kind_order
