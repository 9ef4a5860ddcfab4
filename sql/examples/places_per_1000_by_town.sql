-- question_zh: 各镇街每千人口托位数逐月是多少？
-- question_en: How many childcare places per 1,000 residents did each 镇街 (and the county) have, month by month?
-- reads: marts.indicator_values, reference.areas
--
-- places_per_1000 (每千人口托位数) with its parts: approved places of operating
-- institutions (numerator) and resident population (denominator). NULL means no data
-- for the month (no institutions extract), never 0. Rounded to 2 decimals as in reports.

with indicator as (

    select period, area_code, value, numerator, denominator, target_value
    from marts.indicator_values
    where indicator_id = 'places_per_1000'

),

areas as (

    select area_code, area_name, parent_code is null as is_county
    from reference.areas

),

final as (

    select
        indicator.period as "月份",
        indicator.area_code as "区划代码",
        areas.area_name as "区划名称",
        round(indicator.value, 2) as "每千人口托位数",
        indicator.numerator as "托位数",
        indicator.denominator as "常住人口",
        indicator.target_value as "目标值",
        areas.is_county
    from indicator
    left join areas
        on areas.area_code = indicator.area_code

)

select * exclude (is_county) from final
order by "月份", is_county desc, "区划代码"
