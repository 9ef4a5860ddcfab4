-- grain: one row per operating institution per month (O(M) of the handbook)
-- materialized: table
-- incremental_by: period
-- depends_on: core.institutions, marts.month_calendar
--
-- O(M): the accepted institution rows of month M with 运营状态 = 正常运营. Every
-- indicator looks only at these institutions and at the enrollment and staffing rows
-- of these institutions.

with calendar as (

    select period
    from marts.month_calendar
    where has_institutions
      and (getvariable('tuoyu_build_periods') is null  -- the months being (re)built: all,
           or list_contains(getvariable('tuoyu_build_periods'), period))  -- or those pipeline/marts/incremental.py names

),

institutions as (

    select
        period,
        institution_id,
        name,
        area_code,
        institution_type,
        affordable,
        demonstration,
        filing_status,
        places,
        cctv_full_coverage,
        fire_safety_passed,
        operating_status
    from core.institutions
    where (getvariable('tuoyu_build_periods') is null or list_contains(getvariable('tuoyu_build_periods'), period))

),

final as (

    select
        institutions.period,
        institutions.institution_id,
        institutions.name,
        institutions.area_code,
        institutions.institution_type,
        institutions.affordable,
        institutions.demonstration,
        institutions.filing_status,
        institutions.places,
        institutions.cctv_full_coverage,
        institutions.fire_safety_passed
    from institutions
    inner join calendar
        on calendar.period = institutions.period
    where institutions.operating_status = '正常运营'

)

select * from final
order by period, institution_id
