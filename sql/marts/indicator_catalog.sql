-- grain: one row per indicator of the handbook
-- materialized: table
-- depends_on: reference.targets, reference.measures
--
-- What each indicator is, from pipeline/marts/catalog.csv (the handbook's list: name, unit,
-- levels, kind, the marts.area_measures columns of its numerator and denominator,
-- decimals, definition, clause), with its target from reference.targets.
-- The lead unit is the target's; for an indicator without a target, the first unit of
-- the measure its clause names.

with catalog as (

    select
        indicator_id,
        name_zh,
        unit_zh,
        levels,
        kind,
        numerator_measure,
        denominator_measure,
        decimals,
        definition_zh,
        clause,
        sort_order
    from read_csv(
        $catalog_path,
        header = true,
        delim = ',',
        quote = '"',
        columns = {
            'indicator_id': 'varchar',
            'name_zh': 'varchar',
            'unit_zh': 'varchar',
            'levels': 'varchar',
            'kind': 'varchar',
            'numerator_measure': 'varchar',
            'denominator_measure': 'varchar',
            'decimals': 'integer',
            'clause': 'varchar',
            'sort_order': 'integer',
            'definition_zh': 'varchar'
        }
    )

),

targets as (

    select indicator_id, target_value, comparison, deadline, lead_unit
    from reference.targets

),

measures as (

    select cast(measure_no as varchar) as clause, lead_unit
    from reference.measures

),

final as (

    select
        catalog.indicator_id,
        catalog.name_zh,
        catalog.unit_zh,
        catalog.levels,
        catalog.kind,
        catalog.numerator_measure,
        catalog.denominator_measure,
        catalog.decimals,
        catalog.definition_zh,
        catalog.clause,
        coalesce(targets.lead_unit, measures.lead_unit) as lead_unit,
        targets.target_value,
        targets.comparison,
        targets.deadline as target_deadline,
        catalog.sort_order
    from catalog
    left join targets
        on targets.indicator_id = catalog.indicator_id
    left join measures
        on measures.clause = catalog.clause

)

select * from final
order by sort_order
