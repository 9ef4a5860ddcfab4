-- question_zh: 某月全县各项指标与上月相比变化了多少？
-- question_en: How did each county-level indicator change from the previous month?
-- reads: marts.indicator_values, marts.indicator_catalog, reference.areas
-- param: $period 统计月份 YYYY-MM，如 2024-03 / the month
--
-- Change = this month's value − the previous month's, unrounded, in the indicator's
-- unit (percentage points for %). NULL when either month has no value.

with county as (

    select area_code
    from reference.areas
    where parent_code is null

),

this_month as (

    select indicator_values.indicator_id, indicator_values.period, indicator_values.value
    from marts.indicator_values as indicator_values
    inner join county
        on county.area_code = indicator_values.area_code
    where indicator_values.period = $period

),

previous_month as (

    select indicator_values.indicator_id, indicator_values.value
    from marts.indicator_values as indicator_values
    inner join county
        on county.area_code = indicator_values.area_code
    where indicator_values.period = strftime(strptime($period, '%Y-%m') - interval 1 month, '%Y-%m')

),

catalog as (

    select indicator_id, name_zh, unit_zh, sort_order
    from marts.indicator_catalog

),

final as (

    select
        this_month.period as "月份",
        this_month.indicator_id as "指标",
        catalog.name_zh as "指标名称",
        catalog.unit_zh as "单位",
        previous_month.value as "上月",
        this_month.value as "本月",
        this_month.value - previous_month.value as "环比变化",
        catalog.sort_order
    from this_month
    left join previous_month
        on previous_month.indicator_id = this_month.indicator_id
    left join catalog
        on catalog.indicator_id = this_month.indicator_id

)

select * exclude (sort_order) from final
order by sort_order
