-- grain: one row per county of the prefecture per month of any current bundle
-- materialized: table
-- depends_on: rollup.county_indicator_values, rollup.bundle_receipts, reference.areas
--
-- Which county's current bundle has which month (docs/rollup.md §4): the months are the
-- union of the current bundles' months; a county without a bundle, or whose bundle lacks
-- the month, has in_bundle false. bundle, bundle_made_at: the county's current bundle.

with counties as (

    select area_code as county_code, area_name as county_name
    from reference.areas
    where parent_code is not null

),

months as (

    select distinct period
    from rollup.county_indicator_values

),

present as (

    select distinct county_code, period
    from rollup.county_indicator_values

),

current_bundles as (

    select
        county_code,
        arg_max(bundle, received_at) as bundle,
        max(made_at) as made_at
    from rollup.bundle_receipts
    where status = 'current'
    group by county_code

),

final as (

    select
        counties.county_code,
        counties.county_name,
        months.period,
        present.period is not null as in_bundle,
        current_bundles.bundle,
        current_bundles.made_at as bundle_made_at
    from counties
    cross join months
    left join present
        on present.county_code = counties.county_code
        and present.period = months.period
    left join current_bundles
        on current_bundles.county_code = counties.county_code

)

select * from final
order by county_code, period
