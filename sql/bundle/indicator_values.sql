-- bundle: indicator_values.parquet (docs/rollup.md section 1)
-- grain: one row per indicator × month × area: the county and each 镇街, as marts.indicator_values
-- reads: marts.indicator_values, reference.areas
--
-- The county's published figures with their numerators and denominators, so that a
-- prefecture can sum them. is_county marks the county's own row: its area is the root of
-- reference.areas (the row without a parent). Status is judged against the county's targets.

with county as (

    select area_code
    from reference.areas
    where parent_code is null

)

select
    iv.indicator_id,
    iv.period,
    iv.area_code,
    iv.area_code = (select area_code from county) as is_county,
    iv.value,
    iv.numerator,
    iv.denominator,
    iv.target_value,
    iv.target_deadline,
    iv.status
from marts.indicator_values as iv
order by iv.period, iv.indicator_id, is_county desc, iv.area_code
