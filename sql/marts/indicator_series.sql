-- grain: one row per indicator per month per area: the county for every indicator, each 镇街 for level-A ones
-- materialized: table
-- depends_on: marts.area_measures, marts.indicator_catalog
--
-- The handbook's definitions as numerator ÷ denominator. Which indicators there are, and
-- which columns of marts.area_measures are their numerator and denominator, is the
-- catalog's (pipeline/marts/catalog.csv: numerator_measure, denominator_measure; no
-- denominator for a count). The catalog's `kind` turns them into the value: a count is
-- its numerator; a per-1000 figure is 1000 × numerator ÷ denominator; a percentage
-- 100 × numerator ÷ denominator.
-- NULL numerator = no data for the month; a zero denominator gives a NULL value.

with amounts as (

    -- Every count of marts.area_measures as one (measure, amount) row, NULLs kept.
    select period, area_code, is_county, measure, amount
    from (
        select * exclude (has_institutions, has_enrollment, has_staffing)
        from marts.area_measures
    )
    unpivot include nulls (amount for measure in (columns(* exclude (period, area_code, is_county))))

),

catalog as (

    select indicator_id, kind, levels, numerator_measure, denominator_measure, sort_order
    from marts.indicator_catalog

),

formulas as (

    select
        catalog.indicator_id,
        numerators.period,
        numerators.area_code,
        numerators.is_county,
        cast(numerators.amount as double) as numerator,
        cast(denominators.amount as double) as denominator
    from catalog
    inner join amounts as numerators
        on numerators.measure = catalog.numerator_measure
    left join amounts as denominators
        on denominators.measure = catalog.denominator_measure
        and denominators.period = numerators.period
        and denominators.area_code = numerators.area_code
    where numerators.is_county
       or list_contains(string_split(replace(catalog.levels, ' ', ''), ','), 'A')

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

)

select * from final
order by sort_order, period, is_county desc, area_code
