-- question_zh: 某项指标全县逐月走势如何，离目标还有多远？
-- question_en: How has one indicator moved month by month for the county, against its target?
-- reads: marts.indicator_values, marts.target_checks, marts.indicator_catalog, reference.areas
-- param: $indicator_id 指标编号，如 places_per_1000（可用的编号见 marts.indicator_catalog）/ the indicator id
--
-- The county's value each month, its target and deadline, the gap (value − target, from
-- marts.target_checks) and the target status of the handbook. NULL value: no data for
-- the month.

with county as (

    select area_code
    from reference.areas
    where parent_code is null

),

series as (

    select
        indicator_values.indicator_id,
        indicator_values.period,
        indicator_values.value,
        indicator_values.target_value,
        indicator_values.target_deadline,
        indicator_values.status,
        checks.gap
    from marts.indicator_values as indicator_values
    inner join county
        on county.area_code = indicator_values.area_code
    left join marts.target_checks as checks
        on checks.indicator_id = indicator_values.indicator_id
        and checks.period = indicator_values.period
        and checks.area_code = indicator_values.area_code
    where indicator_values.indicator_id = $indicator_id

),

catalog as (

    select indicator_id, name_zh, unit_zh
    from marts.indicator_catalog

),

final as (

    select
        series.period as "月份",
        catalog.name_zh as "指标名称",
        catalog.unit_zh as "单位",
        series.value as "数值",
        series.target_value as "目标值",
        series.target_deadline as "截止月份",
        series.gap as "与目标差距",
        case series.status
            when 'attained' then '已达成'
            when 'not_attained' then '未达成'
            when 'on_track' then '按期推进'
            when 'needs_acceleration' then '需加快'
            when 'limited_progress' then '进展有限'
            when 'regressing' then '倒退'
            when 'insufficient_data' then '数据不足'
            when 'no_data' then '无数据'
            else series.status
        end as "状态"
    from series
    left join catalog
        on catalog.indicator_id = series.indicator_id

)

select * from final
order by "月份"
