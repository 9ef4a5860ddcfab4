-- question_zh: 某月哪些镇街的指标还没有达到全县的目标值？
-- question_en: In a given month, which 镇街 have not yet reached the county's target for an indicator?
-- reads: marts.indicator_values, marts.indicator_catalog, reference.areas
-- param: $period 统计月份 YYYY-MM，如 2024-03 / the month
--
-- Targets are set for the county; holding each 镇街 to the same bar shows where the
-- county's gap comes from. Only rates and per-1,000 figures measured per 镇街 (level A)
-- with a target: a count target (e.g. 示范性托育机构数 ≥ 1) is for the county as a whole.
-- A 镇街 without a value (no data, or a zero denominator) is not listed.

with catalog as (

    select indicator_id, name_zh, unit_zh, comparison, target_value, target_deadline, sort_order
    from marts.indicator_catalog
    where target_value is not null
      and kind in ('percent', 'per_1000')

),

towns as (

    select area_code, area_name
    from reference.areas
    where parent_code is not null

),

town_values as (

    select indicator_values.indicator_id, indicator_values.period, indicator_values.area_code, indicator_values.value
    from marts.indicator_values as indicator_values
    inner join towns
        on towns.area_code = indicator_values.area_code
    where indicator_values.period = $period
      and indicator_values.value is not null

),

final as (

    select
        town_values.period as "月份",
        catalog.name_zh as "指标名称",
        towns.area_name as "镇街",
        town_values.value as "数值",
        catalog.comparison || ' ' || catalog.target_value as "目标",
        catalog.target_deadline as "截止月份",
        town_values.value - catalog.target_value as "与目标差距",
        catalog.unit_zh as "单位",
        catalog.sort_order,
        town_values.area_code
    from town_values
    inner join catalog
        on catalog.indicator_id = town_values.indicator_id
    inner join towns
        on towns.area_code = town_values.area_code
    where case catalog.comparison
        when '>=' then town_values.value < catalog.target_value - 1e-9
        else abs(town_values.value - catalog.target_value) > 1e-9
    end

)

select * exclude (sort_order, area_code) from final
order by sort_order, area_code
