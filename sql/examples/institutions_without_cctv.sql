-- question_zh: 某月哪些正常运营的托育机构没有实现视频监控全覆盖？
-- question_en: Which operating institutions did not have full video (CCTV) coverage in a given month?
-- reads: marts.operating_institutions, reference.areas
-- param: $period 统计月份 YYYY-MM，如 2024-03 / the month
--
-- The institutions outside the numerator of cctv_coverage (视频监控全覆盖率): those that
-- reported 否 and those that left the cell empty. Only operating institutions (O(M)).

with institutions as (

    select period, institution_id, name, area_code, institution_type, cctv_full_coverage
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
        case when institutions.cctv_full_coverage is null then '未填报' else '否' end as "视频监控全覆盖"
    from institutions
    left join areas
        on areas.area_code = institutions.area_code
    where institutions.cctv_full_coverage is not true

)

select * from final
order by "镇街", "机构编号"
