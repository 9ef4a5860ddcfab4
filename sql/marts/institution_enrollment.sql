-- grain: one row per operating institution per month that has an enrollment extract
-- materialized: table
-- incremental_by: period
-- depends_on: marts.operating_institutions, marts.month_calendar, core.enrollment
--
-- Enrolled children of each institution in O(M): enrollment rows in all and by 班型,
-- distinct children, and the caregivers the staffing standard requires
-- (⌈乳儿班/3⌉ + ⌈托小班/5⌉ + ⌈托大班/7⌉, 托育机构设置标准（试行）第二十条), counted on
-- enrollment rows as the handbook says. Institutions without children have zeros.

with calendar as (

    select period
    from marts.month_calendar
    where has_enrollment
      and (getvariable('tuoyu_build_periods') is null  -- the months being (re)built: all,
           or list_contains(getvariable('tuoyu_build_periods'), period))  -- or those pipeline/marts/incremental.py names

),

operating as (

    select period, institution_id, area_code
    from marts.operating_institutions
    where (getvariable('tuoyu_build_periods') is null or list_contains(getvariable('tuoyu_build_periods'), period))

),

enrollment as (

    select period, institution_id, child_pseudonym, class_type
    from core.enrollment
    where (getvariable('tuoyu_build_periods') is null or list_contains(getvariable('tuoyu_build_periods'), period))

),

-- Rows per child first, then per institution: a second grouping instead of
-- count(distinct) (the same numbers, a fraction of the work on millions of rows).
by_child as (

    select
        period,
        institution_id,
        child_pseudonym,
        count(*) as enrollment_rows,
        count(*) filter (where class_type = '乳儿班') as infant_class_rows,
        count(*) filter (where class_type = '托小班') as younger_toddler_class_rows,
        count(*) filter (where class_type = '托大班') as older_toddler_class_rows
    from enrollment
    group by period, institution_id, child_pseudonym

),

by_institution as (

    select
        period,
        institution_id,
        cast(sum(enrollment_rows) as bigint) as enrollment_rows,
        count(child_pseudonym) as children,
        cast(sum(infant_class_rows) as bigint) as infant_class_rows,
        cast(sum(younger_toddler_class_rows) as bigint) as younger_toddler_class_rows,
        cast(sum(older_toddler_class_rows) as bigint) as older_toddler_class_rows
    from by_child
    group by period, institution_id

),

counted as (

    select
        operating.period,
        operating.institution_id,
        operating.area_code,
        coalesce(by_institution.enrollment_rows, 0) as enrollment_rows,
        coalesce(by_institution.children, 0) as children,
        coalesce(by_institution.infant_class_rows, 0) as infant_class_rows,
        coalesce(by_institution.younger_toddler_class_rows, 0) as younger_toddler_class_rows,
        coalesce(by_institution.older_toddler_class_rows, 0) as older_toddler_class_rows
    from operating
    inner join calendar
        on calendar.period = operating.period
    left join by_institution
        on by_institution.period = operating.period
        and by_institution.institution_id = operating.institution_id

),

final as (

    select
        period,
        institution_id,
        area_code,
        enrollment_rows,
        children,
        infant_class_rows,
        younger_toddler_class_rows,
        older_toddler_class_rows,
        cast(
            ceil(infant_class_rows / 3)
            + ceil(younger_toddler_class_rows / 5)
            + ceil(older_toddler_class_rows / 7)
            as bigint
        ) as required_caregivers
    from counted

)

select * from final
order by period, institution_id
