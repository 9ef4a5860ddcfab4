-- grain: one row per measure of reference.measures (the numbered measures 1–17 of 三)
-- materialized: table
-- depends_on: reference.measures, marts.indicator_catalog
--
-- Which indicators reflect each policy measure, by name, in catalog order. A measure
-- the monthly extracts hold no data on says so (本数据无法反映) instead of showing
-- nothing. An id unknown to the catalog is shown as the id itself, so it is noticed.

with measures as (

    select
        measure_no,
        title_zh,
        lead_unit,
        responsible_units,
        indicator_ids,
        coverage_note_zh
    from reference.measures

),

catalog as (

    select indicator_id, name_zh, sort_order
    from marts.indicator_catalog

),

measure_indicators as (

    select
        measures.measure_no,
        trim(listed.indicator_id) as indicator_id
    from measures
    cross join unnest(string_split(measures.indicator_ids, ',')) as listed(indicator_id)
    where trim(listed.indicator_id) <> ''

),

named as (

    select
        measure_indicators.measure_no,
        string_agg(
            measure_indicators.indicator_id, ','
            order by coalesce(catalog.sort_order, 1000000), measure_indicators.indicator_id
        ) as indicator_ids,
        string_agg(
            coalesce(catalog.name_zh, measure_indicators.indicator_id), '、'
            order by coalesce(catalog.sort_order, 1000000), measure_indicators.indicator_id
        ) as indicator_names_zh
    from measure_indicators
    left join catalog
        on catalog.indicator_id = measure_indicators.indicator_id
    group by measure_indicators.measure_no

),

final as (

    select
        measures.measure_no,
        measures.title_zh,
        measures.lead_unit,
        measures.responsible_units,
        named.indicator_ids,
        coalesce(named.indicator_names_zh, '本数据无法反映') as indicators_zh,
        named.indicator_ids is not null as has_indicators,
        measures.coverage_note_zh
    from measures
    left join named
        on named.measure_no = measures.measure_no

)

select * from final
order by measure_no
