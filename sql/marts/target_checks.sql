-- grain: one row per indicator per month per area that a target applies to: every county row, and the 镇街 rows of a 'county_and_towns' target
-- materialized: table
-- depends_on: marts.indicator_series, reference.targets
--
-- The target rule, in one place: whether a value meets its target and how far it is
-- from it. marts.indicator_values (status), marts.target_verdicts (the verdict at the
-- deadline) and the report read these columns; nothing else compares a value with a
-- target. For target T:
--   meets_target  '>=': value >= T − tolerance;  '=': |value − T| <= tolerance
--   gap           value − T (negative: short of the target)
--   shortfall     T − value, 0 when the target is met: what is still missing, as the
--                 report prints it
-- All three are NULL when the value is NULL (no data). The tolerance ($tolerance,
-- pipeline/marts/build.py TOLERANCE) absorbs floating-point noise: 100 × 1 ÷ 3 and
-- (1 ÷ 3) × 100 differ in the last bit, and a rate of exactly 100 must meet "= 100".
-- A target applies to the county row, and to the 镇街 rows only when its applies_to is
-- 'county_and_towns' (a rate or per-1,000 figure). A county total such as clause 二's
-- 1-3 示范性机构 ('county') has no rows here for the 镇街: one institution per 镇街 is
-- not what the policy asks.

with series as (

    select indicator_id, period, area_code, value, is_county, sort_order
    from marts.indicator_series

),

targets as (

    select indicator_id, target_value, comparison, deadline, applies_to
    from reference.targets

),

compared as (

    select
        series.indicator_id,
        series.period,
        series.area_code,
        series.value,
        targets.target_value,
        targets.comparison,
        targets.deadline as target_deadline,
        case targets.comparison
            when '>=' then series.value >= targets.target_value - $tolerance
            when '=' then abs(series.value - targets.target_value) <= $tolerance
        end as meets_target,
        series.is_county,
        series.sort_order
    from series
    inner join targets
        on targets.indicator_id = series.indicator_id
    where series.is_county or targets.applies_to = 'county_and_towns'

),

final as (

    select
        indicator_id,
        period,
        area_code,
        value,
        target_value,
        comparison,
        target_deadline,
        meets_target,
        value - target_value as gap,
        case when meets_target then 0 else target_value - value end as shortfall,
        is_county,
        sort_order
    from compared

)

select * exclude (sort_order)
from final
order by sort_order, period, is_county desc, area_code
