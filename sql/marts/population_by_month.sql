-- grain: one row per month per area (the county and each 镇街 of reference.areas)
-- materialized: table
-- depends_on: marts.month_calendar, reference.areas, reference.population
--
-- The population each month is measured against: year(M) of population.csv, else the
-- latest earlier year, chosen per 镇街. The county is the sum of its 镇街, and is NULL
-- when any 镇街 has no population for the month (a partial sum would overstate rates).

with calendar as (

    select period, year(month_start) as calendar_year
    from marts.month_calendar

),

areas as (

    select area_code, parent_code
    from reference.areas

),

towns as (

    select area_code
    from areas
    where parent_code is not null

),

county as (

    select area_code
    from areas
    where parent_code is null

),

population as (

    select year, area_code, resident_population, population_under3
    from reference.population

),

town_years as (

    select
        calendar.period,
        calendar.calendar_year,
        towns.area_code,
        max(population.year) as population_year
    from calendar
    cross join towns
    left join population
        on population.area_code = towns.area_code
        and population.year <= calendar.calendar_year
    group by calendar.period, calendar.calendar_year, towns.area_code

),

town_population as (

    select
        town_years.period,
        town_years.area_code,
        town_years.population_year,
        town_years.population_year < town_years.calendar_year as is_earlier_year,
        population.resident_population,
        population.population_under3
    from town_years
    left join population
        on population.area_code = town_years.area_code
        and population.year = town_years.population_year

),

county_population as (

    select
        town_population.period,
        county.area_code,
        min(town_population.population_year) as population_year,
        bool_or(coalesce(town_population.is_earlier_year, false)) as is_earlier_year,
        case
            when count(*) = count(town_population.resident_population)
                then sum(town_population.resident_population)
        end as resident_population,
        case
            when count(*) = count(town_population.population_under3)
                then sum(town_population.population_under3)
        end as population_under3
    from town_population
    cross join county
    group by town_population.period, county.area_code

),

final as (

    select
        period, area_code, population_year, is_earlier_year,
        resident_population, population_under3
    from county_population

    union all

    select
        period, area_code, population_year, is_earlier_year,
        resident_population, population_under3
    from town_population

)

select * from final
order by period, area_code
