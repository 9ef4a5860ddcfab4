-- bundle: institution_types.parquet (docs/rollup.md section 1)
-- grain: one row per month × area × 机构类型 with at least one operating institution: each 镇街 and the county
-- reads: marts.operating_institutions, reference.areas
--
-- Operating institutions O(M) counted per 机构类型, per 镇街 and for the county (its area is
-- the root of reference.areas): what a prefecture needs to count the types present in
-- any county. Only counts: no institution id or name. Months without an institutions
-- extract have no rows (marts.operating_institutions has none for them).

with county as (

    select area_code
    from reference.areas
    where parent_code is null

),

operating as (

    select period, area_code, institution_type
    from marts.operating_institutions
    where institution_type is not null

),

by_town as (

    select period, area_code, institution_type, count(*) as institutions
    from operating
    group by period, area_code, institution_type

),

by_county as (

    select period, (select area_code from county) as area_code, institution_type, count(*) as institutions
    from operating
    group by period, institution_type

)

select period, area_code, institution_type, institutions
from (
    select * from by_county
    union all
    select * from by_town
)
where institutions > 0
order by period, area_code, institution_type
