-- grain: one row per indicator per month per area, as marts.indicator_values
-- materialized: view
-- depends_on: marts.indicator_values, marts.indicator_catalog, reference.areas
--
-- marts.indicator_values for readers: Chinese column names, area names, Chinese
-- status, values rounded as the handbook's reports round them (counts to integers,
-- per-1000 figures to 2 decimals, percentages to 1), and the change against the
-- previous month (环比) and the same month a year earlier (同比), from unrounded
-- values, in the indicator's unit (percentage points for %). NULL stays NULL.

with indicator_values as (

    select
        indicator_id,
        period,
        area_code,
        value,
        target_value,
        target_deadline,
        status,
        strptime(period, '%Y-%m') as month_start
    from marts.indicator_values

),

catalog as (

    select indicator_id, name_zh, decimals, sort_order
    from marts.indicator_catalog

),

areas as (

    select area_code, area_name, parent_code
    from reference.areas

),

status_names as (

    select status, status_zh
    from (
        values
            ('attained', '已达成'),
            ('not_attained', '未达成'),
            ('on_track', '按期推进'),
            ('needs_acceleration', '需加快'),
            ('limited_progress', '进展有限'),
            ('regressing', '倒退'),
            ('insufficient_data', '数据不足'),
            ('no_data', '无数据')
    ) as names(status, status_zh)

),

changes as (

    select
        current_month.indicator_id,
        current_month.period,
        current_month.area_code,
        current_month.value - previous_month.value as month_on_month,
        current_month.value - same_month_last_year.value as year_on_year
    from indicator_values as current_month
    left join indicator_values as previous_month
        on previous_month.indicator_id = current_month.indicator_id
        and previous_month.area_code = current_month.area_code
        and previous_month.month_start = current_month.month_start - interval 1 month
    left join indicator_values as same_month_last_year
        on same_month_last_year.indicator_id = current_month.indicator_id
        and same_month_last_year.area_code = current_month.area_code
        and same_month_last_year.month_start = current_month.month_start - interval 12 month

),

final as (

    select
        indicator_values.indicator_id as "指标",
        catalog.name_zh as "指标名称",
        indicator_values.period as "月份",
        indicator_values.area_code as "区划代码",
        areas.area_name as "区划名称",
        -- + 0.0 turns a rounded -0.0 into 0.0.
        round(indicator_values.value, catalog.decimals) + 0.0 as "数值",
        indicator_values.target_value as "目标值",
        indicator_values.target_deadline as "截止月份",
        status_names.status_zh as "状态",
        round(changes.month_on_month, catalog.decimals) + 0.0 as "环比",
        round(changes.year_on_year, catalog.decimals) + 0.0 as "同比",
        catalog.sort_order,
        areas.parent_code is null as is_county
    from indicator_values
    inner join catalog
        on catalog.indicator_id = indicator_values.indicator_id
    left join areas
        on areas.area_code = indicator_values.area_code
    left join status_names
        on status_names.status = indicator_values.status
    left join changes
        on changes.indicator_id = indicator_values.indicator_id
        and changes.period = indicator_values.period
        and changes.area_code = indicator_values.area_code

)

select
    "指标",
    "指标名称",
    "月份",
    "区划代码",
    "区划名称",
    "数值",
    "目标值",
    "截止月份",
    "状态",
    "环比",
    "同比"
from final
order by sort_order, "月份", is_county desc, "区划代码"
