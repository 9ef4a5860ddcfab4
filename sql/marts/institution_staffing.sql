-- grain: one row per operating institution per month that has a staffing extract
-- materialized: table
-- incremental_by: period
-- depends_on: marts.operating_institutions, marts.month_calendar, core.staffing
--
-- Staff of each institution in O(M), counted as staffing rows (one row = one person
-- employed by this institution at month end): a person on two institutions' lists is
-- checked, trained and counted by each of them. Caregivers are the rows with
-- 岗位 = 保育人员; certified caregivers hold 保育师, 育婴员 or 幼儿园教师资格证.

with calendar as (

    select period
    from marts.month_calendar
    where has_staffing
      and (getvariable('tuoyu_build_periods') is null  -- the months being (re)built: all,
           or list_contains(getvariable('tuoyu_build_periods'), period))  -- or those pipeline/marts/incremental.py names

),

operating as (

    select period, institution_id, area_code
    from marts.operating_institutions
    where (getvariable('tuoyu_build_periods') is null or list_contains(getvariable('tuoyu_build_periods'), period))

),

staffing as (

    select
        period,
        institution_id,
        role,
        certificate,
        pre_service_training,
        criminal_record_check
    from core.staffing
    where (getvariable('tuoyu_build_periods') is null or list_contains(getvariable('tuoyu_build_periods'), period))

),

final as (

    select
        operating.period,
        operating.institution_id,
        operating.area_code,
        count(staffing.institution_id) as staff_rows,
        count(*) filter (where staffing.pre_service_training) as trained_staff_rows,
        count(*) filter (where staffing.criminal_record_check) as checked_staff_rows,
        count(*) filter (where staffing.role = '保育人员') as caregivers,
        count(*) filter (
            where staffing.role = '保育人员'
              and staffing.certificate in ('保育师', '育婴员', '幼儿园教师资格证')
        ) as certified_caregivers
    from operating
    inner join calendar
        on calendar.period = operating.period
    left join staffing
        on staffing.period = operating.period
        and staffing.institution_id = operating.institution_id
    group by operating.period, operating.institution_id, operating.area_code

)

select * from final
order by period, institution_id
