-- grain: one row per indicator per month per area: the prefecture (is_county) and each of its counties
-- materialized: table
-- depends_on: rollup.county_periods, rollup.county_indicator_values, rollup.county_institution_types, marts.indicator_catalog, reference.areas
--
-- The prefecture's figures from its counties' bundles (docs/rollup.md §4). build.py copies
-- the columns marts.indicator_series has in a county (indicator_id, period, area_code,
-- value, numerator, denominator, is_county, sort_order) into marts.indicator_series, over
-- which sql/marts/target_checks.sql and indicator_values.sql run unchanged.
--
-- A county's row is its own bundle's county row. A county has a month's value of an
-- indicator when its numerator is not null, and for a rate or per-1,000 figure also its
-- denominator. Over the counties that have it, the prefecture's
--   count:     Σ numerators
--   per_1000:  1000 × Σ numerators ÷ Σ denominators
--   percent:   100 × Σ numerators ÷ Σ denominators (town coverage too: Σ covered towns ÷
--              Σ towns, every county's towns)
--   service_type_count: the number of 机构类型 with an institution (institutions > 0) in
--              any of those counties (rollup.county_institution_types), not a sum
-- Which indicator is which kind is the catalog's (marts.indicator_catalog). The prefecture
-- has a value only when counties_with_value >= $min_county_share × counties (rollup.toml,
-- default 1: every county of reference.areas, also those without a bundle); otherwise its
-- value, numerator and denominator are NULL (no_data). A zero Σ denominator gives a NULL
-- value, as in a county.

with catalog as (

    select indicator_id, kind, sort_order
    from marts.indicator_catalog

),

prefecture as (

    select area_code
    from reference.areas
    where parent_code is null

),

county_count as (

    select count(*) as counties
    from reference.areas
    where parent_code is not null

),

county_rows as (

    select county_code, indicator_id, period, value, numerator, denominator
    from rollup.county_indicator_values
    where is_county

),

counties as (

    select
        catalog.indicator_id,
        months.period,
        months.county_code,
        catalog.kind,
        catalog.sort_order,
        county_rows.value,
        county_rows.numerator,
        county_rows.denominator,
        coalesce(
            county_rows.numerator is not null
            and (catalog.kind = 'count' or county_rows.denominator is not null),
            false
        ) as has_value
    from catalog
    cross join rollup.county_periods as months
    left join county_rows
        on county_rows.county_code = months.county_code
        and county_rows.indicator_id = catalog.indicator_id
        and county_rows.period = months.period

),

service_types as (

    select types.period, count(distinct types.institution_type) as types
    from rollup.county_institution_types as types
    inner join counties
        on counties.county_code = types.county_code
        and counties.period = types.period
        and counties.indicator_id = 'service_type_count'
        and counties.has_value
    where types.institutions > 0
    group by types.period

),

sums as (

    select
        counties.indicator_id,
        counties.period,
        counties.kind,
        counties.sort_order,
        count(*) filter (where counties.has_value) as counties_with_value,
        case when counties.indicator_id = 'service_type_count'
            then cast(coalesce(any_value(service_types.types), 0) as double)
            else sum(counties.numerator) filter (where counties.has_value)
        end as numerator,
        sum(counties.denominator) filter (where counties.has_value) as denominator
    from counties
    left join service_types
        on service_types.period = counties.period
    group by counties.indicator_id, counties.period, counties.kind, counties.sort_order

),

judged as (

    select
        sums.*,
        county_count.counties,
        sums.counties_with_value > 0
            and sums.counties_with_value >= $min_county_share * county_count.counties - $tolerance as enough
    from sums
    cross join county_count

),

final as (

    select
        judged.indicator_id,
        judged.period,
        prefecture.area_code,
        case when judged.enough then
            case judged.kind
                when 'count' then judged.numerator
                when 'per_1000' then 1000 * judged.numerator / nullif(judged.denominator, 0)
                when 'percent' then 100 * judged.numerator / nullif(judged.denominator, 0)
            end
        end as value,
        case when judged.enough then judged.numerator end as numerator,
        case when judged.enough and judged.kind <> 'count' then judged.denominator end as denominator,
        true as is_county,
        judged.sort_order,
        judged.counties_with_value,
        judged.counties
    from judged
    cross join prefecture

    union all

    select
        indicator_id,
        period,
        county_code as area_code,
        value,
        numerator,
        denominator,
        false as is_county,
        sort_order,
        cast(has_value as bigint) as counties_with_value,
        1 as counties
    from counties

)

select * from final
order by sort_order, period, is_county desc, area_code
