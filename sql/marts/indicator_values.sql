-- grain: one row per indicator per month per area: the county for every indicator, each 镇街 for level-A ones
-- materialized: table
-- depends_on: marts.indicator_series, reference.targets
--
-- The published table of the handbook ("Published output"): each value with its
-- target and target status. Status, for an indicator with target T (>= or =) and
-- deadline D, in month M:
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
-- Months are calendar months. Comparisons allow 1e-9 for floating-point noise.
-- A target applies to the county row, and to the 镇街 rows only when its applies_to is
-- 'county_and_towns' (a rate or per-1,000 figure). A county total such as clause 二's
-- 1-3 示范性机构 ('county') leaves target_value, target_deadline and status NULL on
-- the 镇街 rows: one institution per 镇街 is not what the policy asks.

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

targets as (

    select
        indicator_id,
        target_value,
        comparison,
        deadline,
        applies_to,
        cast(left(deadline, 4) as integer) * 12 + cast(right(deadline, 2) as integer) - 1
            as deadline_index
    from reference.targets

),

-- The target of each row it applies to: every county row, and 镇街 rows when the target
-- is set for 镇街 too.
row_targets as (

    select
        series.indicator_id,
        series.period,
        series.area_code,
        targets.target_value,
        targets.comparison,
        targets.deadline,
        targets.deadline_index
    from series
    inner join targets
        on targets.indicator_id = series.indicator_id
    where series.is_county or targets.applies_to = 'county_and_towns'

),

targeted as (

    select
        series.indicator_id,
        series.period,
        series.area_code,
        series.value,
        series.month_index,
        row_targets.target_value,
        row_targets.deadline_index,
        case row_targets.comparison
            when '>=' then series.value >= row_targets.target_value - 1e-9
            when '=' then abs(series.value - row_targets.target_value) <= 1e-9
        end as meets_target,
        row_targets.comparison
    from series
    inner join row_targets
        on row_targets.indicator_id = series.indicator_id
        and row_targets.period = series.period
        and row_targets.area_code = series.area_code

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
        case targeted.comparison
            when '>=' then base.value >= targeted.target_value - 1e-9
            when '=' then abs(base.value - targeted.target_value) <= 1e-9
        end as base_meets_target,
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
    inner join series as base
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
            when progress.progress_ratio >= 0.95 - 1e-9 then 'on_track'
            when progress.progress_ratio >= 0.6 - 1e-9 then 'needs_acceleration'
            when progress.progress_ratio >= 0 - 1e-9 then 'limited_progress'
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
        row_targets.target_value,
        row_targets.deadline as target_deadline,
        statuses.status,
        series.sort_order,
        series.is_county
    from series
    left join row_targets
        on row_targets.indicator_id = series.indicator_id
        and row_targets.period = series.period
        and row_targets.area_code = series.area_code
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
