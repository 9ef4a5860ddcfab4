-- grain: one row per target of reference.targets (an indicator and its deadline month)
-- materialized: table
-- depends_on: marts.indicator_values, marts.month_calendar, marts.indicator_catalog, reference.targets, reference.areas
--
-- The verdict on each target at its deadline, for the county: the value of the
-- deadline month and whether it meets the target. verdict is
--   attained / not_attained  the deadline month has a value; gap = value − target
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

judged as (

    select
        targets.indicator_id,
        targets.comparison,
        targets.target_value,
        targets.deadline,
        targets.planned_max,
        targets.clause,
        targets.lead_unit,
        targets.applies_to,
        data_range.last_period,
        case
            when data_range.last_period is null or targets.deadline > data_range.last_period
                then null
            else at_deadline.value
        end as deadline_value,
        case targets.comparison
            when '>=' then at_deadline.value >= targets.target_value - 1e-9
            when '=' then abs(at_deadline.value - targets.target_value) <= 1e-9
        end as meets_target
    from targets
    cross join data_range
    left join county_values as at_deadline
        on at_deadline.indicator_id = targets.indicator_id
        and at_deadline.period = targets.deadline

),

final as (

    select
        judged.indicator_id,
        catalog.name_zh,
        judged.comparison,
        judged.target_value,
        judged.deadline,
        judged.clause,
        judged.lead_unit,
        judged.applies_to,
        case
            when judged.last_period is null or judged.deadline > judged.last_period then 'pending'
            when judged.deadline_value is null then 'no_data'
            when judged.meets_target then 'attained'
            else 'not_attained'
        end as verdict,
        judged.deadline_value,
        case when judged.deadline_value is not null then judged.meets_target end as attained,
        judged.deadline_value - judged.target_value as gap,
        judged.planned_max,
        case
            when judged.planned_max is not null and judged.deadline_value is not null
                then judged.deadline_value > judged.planned_max + 1e-9
        end as beyond_planned_range,
        latest.period as latest_period,
        latest.value as latest_value,
        latest.status as latest_status,
        catalog.sort_order
    from judged
    left join catalog
        on catalog.indicator_id = judged.indicator_id
    left join latest
        on latest.indicator_id = judged.indicator_id

)

select * from final
order by deadline, sort_order, indicator_id
