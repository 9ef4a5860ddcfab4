-- question_zh: 某月哪些镇街的指标还没有达到全县的目标值？
-- question_en: In a given month, which 镇街 have not yet reached the county's target for an indicator?
-- reads: marts.target_checks, marts.indicator_catalog, reference.areas
-- param: $period 统计月份 YYYY-MM，如 2024-03 / the month
--
-- Targets set for the 镇街 too (applies_to = county_and_towns: the rates and per-1,000
-- figures of the default targets) hold each 镇街 to the county's bar, which shows where
-- the county's gap comes from; a count target (e.g. 示范性托育机构数 ≥ 1) is for the
-- county as a whole. Whether a value meets its target is marts.target_checks'. A 镇街
-- without a value (no data, or a zero denominator) is not listed.

with catalog as (

    select indicator_id, name_zh, unit_zh, sort_order
    from marts.indicator_catalog

),

towns as (

    select area_code, area_name
    from reference.areas
    where parent_code is not null

),

below as (

    select checks.indicator_id, checks.period, checks.area_code, checks.value, checks.comparison,
           checks.target_value, checks.target_deadline, checks.gap
    from marts.target_checks as checks
    inner join towns
        on towns.area_code = checks.area_code
    where checks.period = $period
      and not checks.meets_target

),

final as (

    select
        below.period as "月份",
        catalog.name_zh as "指标名称",
        towns.area_name as "镇街",
        below.value as "数值",
        below.comparison || ' ' || below.target_value as "目标",
        below.target_deadline as "截止月份",
        below.gap as "与目标差距",
        catalog.unit_zh as "单位",
        catalog.sort_order,
        below.area_code
    from below
    inner join catalog
        on catalog.indicator_id = below.indicator_id
    inner join towns
        on towns.area_code = below.area_code

)

select * exclude (sort_order, area_code) from final
order by sort_order, area_code
