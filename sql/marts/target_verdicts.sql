-- grain: one row per target of reference.targets (an indicator and its deadline month)
-- materialized: table
-- depends_on: marts.target_checks, marts.indicator_values, marts.month_calendar, marts.indicator_catalog, reference.targets, reference.areas
--
-- The verdict on each target at its deadline, for the county: the value of the
-- deadline month and whether it meets the target (marts.target_checks: meets_target,
-- gap, shortfall). verdict is
--   attained / not_attained  the deadline month has a value
--   no_data                  the deadline month is in the data's range (or before it)
--                            but has no value
--   pending                  the deadline is after the last month of data
-- latest_* give the last month with a county value, its value and status: where
-- things stand, for every target.
-- A value above planned_max (clause 二: 1–3 示范性机构) is attained and flagged
-- beyond_planned_range. applies_to says whether the target is also judged for each
-- 镇街 in marts.indicator_values; the verdict here is always the county's.

with targets as (

    select
        indicator_id,
        target_value,
        comparison,
        deadline,
        planned_max,
        clause,
        lead_unit,
        applies_to
    from reference.targets

),

county as (

    select area_code
    from reference.areas
    where parent_code is null

),

data_range as (

    select max(period) as last_period
    from marts.month_calendar

),

-- The county's row of each target at its deadline month; none when the deadline month
-- is outside the data (before the first month, or pending).
at_deadline as (

    select checks.indicator_id, checks.period, checks.value, checks.meets_target, checks.gap, checks.shortfall
    from marts.target_checks as checks
    inner join county
        on county.area_code = checks.area_code
    where checks.period = checks.target_deadline

),

county_values as (

    select indicator_values.indicator_id, indicator_values.period, indicator_values.value, indicator_values.status
    from marts.indicator_values as indicator_values
    inner join county
        on county.area_code = indicator_values.area_code

),

catalog as (

    select indicator_id, name_zh, sort_order
    from marts.indicator_catalog

),

latest as (

    select indicator_id, period, value, status
    from county_values
    where value is not null
    qualify row_number() over (partition by indicator_id order by period desc) = 1

),

final as (

    select
        targets.indicator_id,
        catalog.name_zh,
        targets.comparison,
        targets.target_value,
        targets.deadline,
        targets.clause,
        targets.lead_unit,
        targets.applies_to,
        case
            when data_range.last_period is null or targets.deadline > data_range.last_period then 'pending'
            when at_deadline.value is null then 'no_data'
            when at_deadline.meets_target then 'attained'
            else 'not_attained'
        end as verdict,
        at_deadline.value as deadline_value,
        at_deadline.meets_target as attained,
        at_deadline.gap,
        at_deadline.shortfall,
        targets.planned_max,
        case
            when targets.planned_max is not null and at_deadline.value is not null
                then at_deadline.value > targets.planned_max + $tolerance
        end as beyond_planned_range,
        latest.period as latest_period,
        latest.value as latest_value,
        latest.status as latest_status,
        catalog.sort_order
    from targets
    cross join data_range
    left join at_deadline
        on at_deadline.indicator_id = targets.indicator_id
    left join catalog
        on catalog.indicator_id = targets.indicator_id
    left join latest
        on latest.indicator_id = targets.indicator_id

)

select * from final
order by deadline, sort_order, indicator_id
