-- grain: one row per indicator per month per area: the county for every indicator, each 镇街 for level-A ones
-- materialized: table
-- depends_on: marts.area_measures, marts.indicator_catalog
--
-- The handbook's definitions as numerator ÷ denominator. The catalog's `kind` turns
-- them into the value: a count is its numerator; a per-1000 figure is
-- 1000 × numerator ÷ denominator; a percentage 100 × numerator ÷ denominator.
-- NULL numerator = no data for the month; a zero denominator gives a NULL value.

with measures as (

    select
        period,
        area_code,
        is_county,
        demo_institutions,
        places,
        affordable_places,
        towns,
        covered_towns,
        rural_towns,
        covered_rural_towns,
        institutions,
        filed_institutions,
        cctv_institutions,
        fire_safe_institutions,
        children,
        children_under3,
        enrollment_rows,
        caregivers,
        certified_caregivers,
        staff_rows,
        trained_staff_rows,
        checked_staff_rows,
        institutions_with_children,
        ratio_compliant_institutions,
        kindergarten_nurseries,
        employer_institutions,
        mch_institutions,
        institution_types,
        resident_population,
        population_under3
    from marts.area_measures

),

formulas as (

    select 'demo_institutions' as indicator_id, period, area_code, is_county,
        demo_institutions::double as numerator, null::double as denominator from measures
    union all
    select 'places_per_1000', period, area_code, is_county, places, resident_population from measures
    union all
    select 'affordable_place_share', period, area_code, is_county, affordable_places, places from measures
    union all
    select 'town_coverage', period, area_code, is_county, covered_towns, towns from measures
    union all
    select 'rural_town_coverage', period, area_code, is_county, covered_rural_towns, rural_towns from measures
    union all
    select 'filing_rate', period, area_code, is_county, filed_institutions, institutions from measures
    union all
    select 'cctv_coverage', period, area_code, is_county, cctv_institutions, institutions from measures
    union all
    select 'fire_safety_rate', period, area_code, is_county, fire_safe_institutions, institutions from measures
    union all
    select 'enrolled_children', period, area_code, is_county, children, null from measures
    union all
    select 'enrollment_rate', period, area_code, is_county, children_under3, population_under3 from measures
    union all
    select 'place_utilization', period, area_code, is_county, enrollment_rows, places from measures
    union all
    select 'caregiver_certified_rate', period, area_code, is_county, certified_caregivers, caregivers from measures
    union all
    select 'staff_trained_rate', period, area_code, is_county, trained_staff_rows, staff_rows from measures
    union all
    select 'criminal_check_rate', period, area_code, is_county, checked_staff_rows, staff_rows from measures
    union all
    select 'ratio_compliance_rate', period, area_code, is_county,
        ratio_compliant_institutions, institutions_with_children from measures
    union all
    select 'kindergarten_nursery_count', period, area_code, is_county, kindergarten_nurseries, null from measures
    union all
    select 'employer_institution_count', period, area_code, is_county, employer_institutions, null from measures
    union all
    select 'mch_institution_count', period, area_code, is_county, mch_institutions, null from measures
    union all
    select 'service_type_count', period, area_code, is_county, institution_types, null from measures

),

catalog as (

    select indicator_id, kind, levels, sort_order
    from marts.indicator_catalog

),

final as (

    select
        formulas.indicator_id,
        formulas.period,
        formulas.area_code,
        case catalog.kind
            when 'count' then formulas.numerator
            when 'per_1000' then 1000 * formulas.numerator / nullif(formulas.denominator, 0)
            when 'percent' then 100 * formulas.numerator / nullif(formulas.denominator, 0)
        end as value,
        formulas.numerator,
        -- No data for the month: neither part of the rate is shown.
        case when formulas.numerator is not null then formulas.denominator end as denominator,
        formulas.is_county,
        catalog.sort_order
    from formulas
    inner join catalog
        on catalog.indicator_id = formulas.indicator_id
    where formulas.is_county
       or list_contains(string_split(replace(catalog.levels, ' ', ''), ','), 'A')

)

select * from final
order by sort_order, period, is_county desc, area_code
