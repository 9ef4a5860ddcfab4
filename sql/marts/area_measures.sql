-- grain: one row per month per area (the county and each 镇街 of reference.areas)
-- materialized: table
-- incremental_by: period
-- depends_on: marts.month_calendar, marts.population_by_month, marts.operating_institutions, marts.institution_enrollment, marts.institution_staffing, core.enrollment, reference.areas
--
-- The counts behind every indicator, before they become values. A 镇街's counts come
-- from the institutions located in it, the county's from all of O(M), which is the sum
-- over 镇街 except for children: they are distinct pseudonyms at each level, so a child
-- enrolled in two 镇街 counts once for the county.
-- NULL means no data: the month lacks the extract the count needs. Otherwise a count
-- over no institutions is 0 (a 镇街 without institutions has 0 places, 0 children).

with calendar as (

    select period, month_end, has_institutions, has_enrollment, has_staffing
    from marts.month_calendar
    where (getvariable('tuoyu_build_periods') is null  -- the months being (re)built: all,
           or list_contains(getvariable('tuoyu_build_periods'), period))  -- or those pipeline/marts/incremental.py names

),

areas as (

    select area_code, parent_code, urban_rural
    from reference.areas

),

county as (

    select area_code
    from areas
    where parent_code is null

),

towns as (

    select area_code, urban_rural
    from areas
    where parent_code is not null

),

-- Each area an institution can be located in, paired with every area it is reported
-- under: its own, and the county.
reported_under as (

    select area_code, area_code as report_area_code
    from areas

    union

    select towns.area_code, county.area_code as report_area_code
    from towns
    cross join county

),

operating as (

    select
        period,
        institution_id,
        area_code,
        institution_type,
        affordable,
        demonstration,
        filing_status,
        places,
        cctv_full_coverage,
        fire_safety_passed
    from marts.operating_institutions
    where (getvariable('tuoyu_build_periods') is null or list_contains(getvariable('tuoyu_build_periods'), period))

),

institution_counts as (

    select
        operating.period,
        reported_under.report_area_code as area_code,
        count(*) as institutions,
        count(*) filter (where operating.demonstration) as demo_institutions,
        sum(operating.places) as places,
        coalesce(sum(operating.places) filter (where operating.affordable), 0) as affordable_places,
        count(*) filter (where operating.filing_status = '已备案') as filed_institutions,
        count(*) filter (where operating.cctv_full_coverage) as cctv_institutions,
        count(*) filter (where operating.fire_safety_passed) as fire_safe_institutions,
        count(*) filter (where operating.institution_type = '幼儿园托班') as kindergarten_nurseries,
        count(*) filter (where operating.institution_type = '用人单位办托') as employer_institutions,
        count(*) filter (where operating.institution_type = '妇幼保健机构办托') as mch_institutions,
        count(distinct operating.institution_type) as institution_types
    from operating
    inner join reported_under
        on reported_under.area_code = operating.area_code
    group by operating.period, reported_under.report_area_code

),

town_coverage as (

    select
        calendar.period,
        county.area_code,
        count(*) as towns,
        count(covered.area_code) as covered_towns,
        count(*) filter (where towns.urban_rural = '乡村') as rural_towns,
        count(covered.area_code) filter (where towns.urban_rural = '乡村') as covered_rural_towns
    from calendar
    cross join towns
    cross join county
    left join (select distinct period, area_code from operating) as covered
        on covered.period = calendar.period
        and covered.area_code = towns.area_code
    group by calendar.period, county.area_code

),

-- Age in months at month end E: 12 × (year(E) − year(b)) + (month(E) − month(b)),
-- minus 1 when day(E) < day(b). Under 3 means under 36 months.
enrolled_children as (

    select
        enrollment.period,
        operating.area_code,
        enrollment.child_pseudonym,
        12 * (year(calendar.month_end) - year(enrollment.birth_date))
            + (month(calendar.month_end) - month(enrollment.birth_date))
            - case when day(calendar.month_end) < day(enrollment.birth_date) then 1 else 0 end
            as age_months
    from core.enrollment as enrollment
    inner join operating
        on operating.period = enrollment.period
        and operating.institution_id = enrollment.institution_id
    inner join calendar
        on calendar.period = enrollment.period
    where calendar.has_enrollment
      and (getvariable('tuoyu_build_periods') is null or list_contains(getvariable('tuoyu_build_periods'), enrollment.period))

),

-- Distinct children: each child once per area (under 3 when any of its rows is), then
-- once for the county. Two small groupings rather than count(distinct) over the rows
-- repeated for every area they are reported under (the same counts, far less work).
area_children as (

    select
        enrolled_children.period,
        enrolled_children.area_code,
        enrolled_children.child_pseudonym,
        bool_or(enrolled_children.age_months < 36) as under3
    from enrolled_children
    inner join areas
        on areas.area_code = enrolled_children.area_code
    group by enrolled_children.period, enrolled_children.area_code, enrolled_children.child_pseudonym

),

county_children as (

    select
        area_children.period,
        area_children.child_pseudonym,
        bool_or(area_children.under3) as under3
    from area_children
    group by area_children.period, area_children.child_pseudonym

),

child_counts as (

    select
        area_children.period,
        area_children.area_code,
        count(area_children.child_pseudonym) as children,
        count(area_children.child_pseudonym) filter (where area_children.under3) as children_under3
    from area_children
    inner join towns
        on towns.area_code = area_children.area_code
    group by area_children.period, area_children.area_code

    union all

    select
        county_children.period,
        county.area_code,
        count(county_children.child_pseudonym) as children,
        count(county_children.child_pseudonym) filter (where county_children.under3) as children_under3
    from county_children
    cross join county
    group by county_children.period, county.area_code

),

enrollment_counts as (

    select
        institution_enrollment.period,
        reported_under.report_area_code as area_code,
        sum(institution_enrollment.enrollment_rows) as enrollment_rows
    from marts.institution_enrollment as institution_enrollment
    inner join reported_under
        on reported_under.area_code = institution_enrollment.area_code
    where (getvariable('tuoyu_build_periods') is null or list_contains(getvariable('tuoyu_build_periods'), institution_enrollment.period))
    group by institution_enrollment.period, reported_under.report_area_code

),

staff_counts as (

    select
        institution_staffing.period,
        reported_under.report_area_code as area_code,
        sum(institution_staffing.staff_rows) as staff_rows,
        sum(institution_staffing.trained_staff_rows) as trained_staff_rows,
        sum(institution_staffing.checked_staff_rows) as checked_staff_rows,
        sum(institution_staffing.caregivers) as caregivers,
        sum(institution_staffing.certified_caregivers) as certified_caregivers
    from marts.institution_staffing as institution_staffing
    inner join reported_under
        on reported_under.area_code = institution_staffing.area_code
    where (getvariable('tuoyu_build_periods') is null or list_contains(getvariable('tuoyu_build_periods'), institution_staffing.period))
    group by institution_staffing.period, reported_under.report_area_code

),

-- Institutions with at least one enrolled child, and those whose caregivers meet the
-- staffing standard. Needs both the enrollment and the staffing extract of the month.
ratio_counts as (

    select
        institution_enrollment.period,
        reported_under.report_area_code as area_code,
        count(*) as institutions_with_children,
        count(*) filter (
            where institution_staffing.caregivers >= institution_enrollment.required_caregivers
        ) as ratio_compliant_institutions
    from marts.institution_enrollment as institution_enrollment
    inner join marts.institution_staffing as institution_staffing
        on institution_staffing.period = institution_enrollment.period
        and institution_staffing.institution_id = institution_enrollment.institution_id
    inner join reported_under
        on reported_under.area_code = institution_enrollment.area_code
    where institution_enrollment.enrollment_rows > 0
      and (getvariable('tuoyu_build_periods') is null or list_contains(getvariable('tuoyu_build_periods'), institution_enrollment.period))
    group by institution_enrollment.period, reported_under.report_area_code

),

area_months as (

    select
        calendar.period,
        areas.area_code,
        areas.parent_code is null as is_county,
        calendar.has_institutions,
        calendar.has_institutions and calendar.has_enrollment as has_enrollment,
        calendar.has_institutions and calendar.has_staffing as has_staffing
    from calendar
    cross join areas

),

final as (

    select
        area_months.period,
        area_months.area_code,
        area_months.is_county,
        area_months.has_institutions,
        area_months.has_enrollment,
        area_months.has_staffing,

        case when area_months.has_institutions then coalesce(institution_counts.institutions, 0) end as institutions,
        case when area_months.has_institutions then coalesce(institution_counts.demo_institutions, 0) end as demo_institutions,
        case when area_months.has_institutions then coalesce(institution_counts.places, 0) end as places,
        case when area_months.has_institutions then coalesce(institution_counts.affordable_places, 0) end as affordable_places,
        case when area_months.has_institutions then coalesce(institution_counts.filed_institutions, 0) end as filed_institutions,
        case when area_months.has_institutions then coalesce(institution_counts.cctv_institutions, 0) end as cctv_institutions,
        case when area_months.has_institutions then coalesce(institution_counts.fire_safe_institutions, 0) end as fire_safe_institutions,
        case when area_months.has_institutions then coalesce(institution_counts.kindergarten_nurseries, 0) end as kindergarten_nurseries,
        case when area_months.has_institutions then coalesce(institution_counts.employer_institutions, 0) end as employer_institutions,
        case when area_months.has_institutions then coalesce(institution_counts.mch_institutions, 0) end as mch_institutions,
        case when area_months.has_institutions then coalesce(institution_counts.institution_types, 0) end as institution_types,

        case when area_months.has_institutions then town_coverage.towns end as towns,
        case when area_months.has_institutions then town_coverage.covered_towns end as covered_towns,
        case when area_months.has_institutions then town_coverage.rural_towns end as rural_towns,
        case when area_months.has_institutions then town_coverage.covered_rural_towns end as covered_rural_towns,

        case when area_months.has_enrollment then coalesce(child_counts.children, 0) end as children,
        case when area_months.has_enrollment then coalesce(child_counts.children_under3, 0) end as children_under3,
        case when area_months.has_enrollment then coalesce(enrollment_counts.enrollment_rows, 0) end as enrollment_rows,

        case when area_months.has_staffing then coalesce(staff_counts.staff_rows, 0) end as staff_rows,
        case when area_months.has_staffing then coalesce(staff_counts.trained_staff_rows, 0) end as trained_staff_rows,
        case when area_months.has_staffing then coalesce(staff_counts.checked_staff_rows, 0) end as checked_staff_rows,
        case when area_months.has_staffing then coalesce(staff_counts.caregivers, 0) end as caregivers,
        case when area_months.has_staffing then coalesce(staff_counts.certified_caregivers, 0) end as certified_caregivers,

        case when area_months.has_enrollment and area_months.has_staffing
            then coalesce(ratio_counts.institutions_with_children, 0) end as institutions_with_children,
        case when area_months.has_enrollment and area_months.has_staffing
            then coalesce(ratio_counts.ratio_compliant_institutions, 0) end as ratio_compliant_institutions,

        population_by_month.resident_population,
        population_by_month.population_under3

    from area_months
    left join institution_counts
        on institution_counts.period = area_months.period
        and institution_counts.area_code = area_months.area_code
    left join town_coverage
        on town_coverage.period = area_months.period
        and town_coverage.area_code = area_months.area_code
    left join child_counts
        on child_counts.period = area_months.period
        and child_counts.area_code = area_months.area_code
    left join enrollment_counts
        on enrollment_counts.period = area_months.period
        and enrollment_counts.area_code = area_months.area_code
    left join staff_counts
        on staff_counts.period = area_months.period
        and staff_counts.area_code = area_months.area_code
    left join ratio_counts
        on ratio_counts.period = area_months.period
        and ratio_counts.area_code = area_months.area_code
    left join marts.population_by_month as population_by_month
        on population_by_month.period = area_months.period
        and population_by_month.area_code = area_months.area_code

)

select * from final
order by period, is_county desc, area_code
