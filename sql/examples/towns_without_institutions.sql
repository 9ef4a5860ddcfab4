-- question_zh: 某月哪些镇街没有一家正常运营的托育机构？
-- question_en: Which 镇街 had no operating childcare institution in a given month?
-- reads: reference.areas, marts.operating_institutions, marts.month_calendar
-- param: $period 统计月份 YYYY-MM，如 2024-03 / the month
--
-- The 镇街 outside the numerator of town_coverage (镇街托育服务覆盖率) and, for rural
-- ones, rural_town_coverage. Empty when the month has no institutions extract: then
-- coverage is unknown, not zero.

with month as (

    select period
    from marts.month_calendar
    where period = $period
      and has_institutions

),

towns as (

    select area_code, area_name, area_type, urban_rural
    from reference.areas
    where parent_code is not null

),

covered as (

    select distinct area_code
    from marts.operating_institutions
    where period = $period

),

final as (

    select
        month.period as "月份",
        towns.area_code as "区划代码",
        towns.area_name as "镇街",
        towns.area_type as "类型",
        towns.urban_rural as "城乡"
    from towns
    cross join month
    where towns.area_code not in (select area_code from covered)

)

select * from final
order by "区划代码"
