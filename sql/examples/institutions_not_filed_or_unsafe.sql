-- question_zh: 某月哪些正常运营的托育机构未备案，或消防验收未合格？
-- question_en: Which operating institutions were not filed, or had not passed the fire-safety inspection, in a given month?
-- reads: marts.operating_institutions, reference.areas
-- param: $period 统计月份 YYYY-MM，如 2024-03 / the month
--
-- The institutions outside the numerators of filing_rate (托育机构备案率, 备案状态 =
-- 已备案) and fire_safety_rate (消防验收合格率). An empty cell counts as not passed.

with institutions as (

    select period, institution_id, name, area_code, institution_type, filing_status, fire_safety_passed
    from marts.operating_institutions
    where period = $period

),

areas as (

    select area_code, area_name
    from reference.areas

),

final as (

    select
        institutions.period as "月份",
        areas.area_name as "镇街",
        institutions.institution_id as "机构编号",
        institutions.name as "机构名称",
        institutions.institution_type as "机构类型",
        coalesce(institutions.filing_status, '未填报') as "备案状态",
        case
            when institutions.fire_safety_passed then '是'
            when institutions.fire_safety_passed is null then '未填报'
            else '否'
        end as "消防验收合格"
    from institutions
    left join areas
        on areas.area_code = institutions.area_code
    where institutions.filing_status is distinct from '已备案'
       or institutions.fire_safety_passed is not true

)

select * from final
order by "镇街", "机构编号"
