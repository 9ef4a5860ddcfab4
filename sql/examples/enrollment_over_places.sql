-- question_zh: 某月各托育机构的托位使用情况如何，哪些机构在托人数超过核定托位？
-- question_en: How full was each institution in a given month, and which enrolled more children than their approved places?
-- reads: marts.institution_enrollment, marts.operating_institutions, reference.areas
-- param: $period 统计月份 YYYY-MM，如 2024-03 / the month
--
-- Enrolled children (distinct pseudonyms) against approved places (核定托位数) for each
-- operating institution, fullest first; "超出托位" is TRUE where children > places.
-- Empty when the month has no enrollment extract.

with enrollment as (

    select period, institution_id, area_code, children
    from marts.institution_enrollment
    where period = $period

),

institutions as (

    select period, institution_id, name, places
    from marts.operating_institutions
    where period = $period

),

areas as (

    select area_code, area_name
    from reference.areas

),

final as (

    select
        enrollment.period as "月份",
        areas.area_name as "镇街",
        enrollment.institution_id as "机构编号",
        institutions.name as "机构名称",
        institutions.places as "核定托位",
        enrollment.children as "在托人数",
        round(100.0 * enrollment.children / nullif(institutions.places, 0), 1) as "使用率（%）",
        enrollment.children > institutions.places as "超出托位"
    from enrollment
    inner join institutions
        on institutions.period = enrollment.period
        and institutions.institution_id = enrollment.institution_id
    left join areas
        on areas.area_code = enrollment.area_code

)

select * from final
order by "使用率（%）" desc nulls last, "机构编号"
