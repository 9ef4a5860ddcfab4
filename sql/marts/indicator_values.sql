-- grain: one row per indicator per month per area: the county for every indicator, each 镇街 for level-A ones
-- materialized: table
-- depends_on: marts.indicator_series, marts.target_checks
--
-- The published table of the handbook ("Published output"): each value with its
-- target and target status. Whether a value meets its target is marts.target_checks'
-- (meets_target); the rows a target applies to are the rows target_checks has (the
-- county row always, 镇街 rows of a 'county_and_towns' target); the others have NULL
-- target_value, target_deadline and status. Status, for an indicator with target T
-- (>= or =) and deadline D, in month M:
--   value NULL                     -> no_data
--   M >= D                         -> attained if the value meets T, else not_attained
--   M < D and the value meets T    -> attained
--   otherwise linear progress from base month B, the first month with a value in
--   [M − 12, M] (= the later of the first month with a value and M − 12):
--     no month with a value before M in that window -> insufficient_data
--     v(B) already met T (and v(M) no longer does)  -> regressing
--     R = ((v(M) − v(B)) ÷ months(B→M)) ÷ ((T − v(B)) ÷ months(B→D)):
--     on_track R >= 0.95, needs_acceleration 0.6 <= R < 0.95,
--     limited_progress 0 <= R < 0.6, regressing R < 0.
-- Months are calendar months. The band edges allow the same $tolerance as the target
-- comparison, for floating-point noise.

with series as (

    select
        indicator_id,
        period,
        area_code,
        value,
        numerator,
        denominator,
        is_county,
        sort_order,
        cast(left(period, 4) as integer) * 12 + cast(right(period, 2) as integer) - 1 as month_index
    from marts.indicator_series

),

-- The rows a target applies to, with the target and whether the value meets it.
targeted as (

    select
        series.indicator_id,
        series.period,
        series.area_code,
        series.value,
        series.month_index,
        checks.target_value,
        checks.target_deadline,
        cast(left(checks.target_deadline, 4) as integer) * 12 + cast(right(checks.target_deadline, 2) as integer) - 1
            as deadline_index,
        checks.meets_target
    from series
    inner join marts.target_checks as checks
        on checks.indicator_id = series.indicator_id
        and checks.period = series.period
        and checks.area_code = series.area_code

),

base_months as (

    select
        targeted.indicator_id,
        targeted.period,
        targeted.area_code,
        min(earlier.month_index) as base_index
    from targeted
    inner join series as earlier
        on earlier.indicator_id = targeted.indicator_id
        and earlier.area_code = targeted.area_code
        and earlier.value is not null
        and earlier.month_index between targeted.month_index - 12 and targeted.month_index
    where targeted.value is not null
    group by targeted.indicator_id, targeted.period, targeted.area_code

),

progress as (

    select
        targeted.indicator_id,
        targeted.period,
        targeted.area_code,
        base_months.base_index,
        base.value as base_value,
        base.meets_target as base_meets_target,
        -- R with both paces' divisions folded into one, to keep rounding small.
        ((targeted.value - base.value) * (targeted.deadline_index - base_months.base_index))
            / nullif(
                (targeted.target_value - base.value) * (targeted.month_index - base_months.base_index),
                0
            ) as progress_ratio
    from targeted
    inner join base_months
        on base_months.indicator_id = targeted.indicator_id
        and base_months.period = targeted.period
        and base_months.area_code = targeted.area_code
    -- the base month is a row of the same indicator and area, so the target applies to it too
    inner join targeted as base
        on base.indicator_id = targeted.indicator_id
        and base.area_code = targeted.area_code
        and base.month_index = base_months.base_index

),

statuses as (

    select
        targeted.indicator_id,
        targeted.period,
        targeted.area_code,
        case
            when targeted.value is null then 'no_data'
            when targeted.month_index >= targeted.deadline_index
                then case when targeted.meets_target then 'attained' else 'not_attained' end
            when targeted.meets_target then 'attained'
            when progress.base_index = targeted.month_index then 'insufficient_data'
            when progress.base_meets_target then 'regressing'
            when progress.progress_ratio >= 0.95 - $tolerance then 'on_track'
            when progress.progress_ratio >= 0.6 - $tolerance then 'needs_acceleration'
            when progress.progress_ratio >= 0 - $tolerance then 'limited_progress'
            else 'regressing'
        end as status
    from targeted
    left join progress
        on progress.indicator_id = targeted.indicator_id
        and progress.period = targeted.period
        and progress.area_code = targeted.area_code

),

final as (

    select
        series.indicator_id,
        series.period,
        series.area_code,
        series.value,
        series.numerator,
        series.denominator,
        targeted.target_value,
        targeted.target_deadline,
        statuses.status,
        series.sort_order,
        series.is_county
    from series
    left join targeted
        on targeted.indicator_id = series.indicator_id
        and targeted.period = series.period
        and targeted.area_code = series.area_code
    left join statuses
        on statuses.indicator_id = series.indicator_id
        and statuses.period = series.period
        and statuses.area_code = series.area_code

)

select
    indicator_id,
    period,
    area_code,
    value,
    numerator,
    denominator,
    target_value,
    target_deadline,
    status
from final
order by sort_order, period, is_county desc, area_code
