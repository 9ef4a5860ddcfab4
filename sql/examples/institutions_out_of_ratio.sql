-- question_zh: 某月哪些托育机构的保育人员数达不到班型配比要求？
-- question_en: Which institutions had fewer caregivers than their classes require in a given month?
-- reads: marts.institution_enrollment, marts.institution_staffing, marts.operating_institutions, reference.areas
-- param: $period 统计月份 YYYY-MM，如 2024-03 / the month
--
-- The institutions outside the numerator of ratio_compliance_rate (保育人员配比达标率):
-- with at least one enrolled child, and fewer caregivers (岗位 = 保育人员) than
-- ⌈乳儿班/3⌉ + ⌈托小班/5⌉ + ⌈托大班/7⌉ (托育机构设置标准（试行）第二十条). A month
-- without an enrollment or a staffing extract returns nothing: the ratio is unknown.

with enrollment as (

    select
        period,
        institution_id,
        area_code,
        enrollment_rows,
        infant_class_rows,
        younger_toddler_class_rows,
        older_toddler_class_rows,
        required_caregivers
    from marts.institution_enrollment
    where period = $period
      and enrollment_rows > 0

),

staffing as (

    select period, institution_id, caregivers
    from marts.institution_staffing
    where period = $period

),

institutions as (

    select period, institution_id, name
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
        enrollment.infant_class_rows as "乳儿班人数",
        enrollment.younger_toddler_class_rows as "托小班人数",
        enrollment.older_toddler_class_rows as "托大班人数",
        enrollment.required_caregivers as "应配保育人员",
        staffing.caregivers as "实有保育人员",
        enrollment.required_caregivers - staffing.caregivers as "缺口"
    from enrollment
    inner join staffing
        on staffing.period = enrollment.period
        and staffing.institution_id = enrollment.institution_id
    left join institutions
        on institutions.period = enrollment.period
        and institutions.institution_id = enrollment.institution_id
    left join areas
        on areas.area_code = enrollment.area_code
    where staffing.caregivers < enrollment.required_caregivers

)

select * from final
order by "缺口" desc, "机构编号"
