-- The institutions with rows to fix in the current file versions: rows rejected (R) and warned
-- (W), the months concerned, and the institution's name as last delivered. Parameter: $period
-- (NULL = all months).
with findings as (
    select f.institution_id, f.period, f.severity
    from (select * from audit.rejected_rows union all by name select * from audit.row_warnings) as f
    join audit.current_files as cf on cf.kind = f.kind and cf.period = f.period and cf.sha256 = f.sha256
    where f.institution_id is not null and trim(f.institution_id) <> ''
      and ($period is null or f.period = $period)
),
names as (
    select upper(trim(institution_id)) as id, arg_max(name, period_file) as name
    from staging.institutions
    where institution_id is not null
    group by 1
),
final as (
    select
        upper(trim(f.institution_id)) as institution_id,
        any_value(n.name) as name,
        count(*) filter (where f.severity = 'R') as rejected,
        count(*) filter (where f.severity = 'W') as warned,
        min(f.period) as first_period,
        max(f.period) as last_period
    from findings as f
    left join names as n on n.id = upper(trim(f.institution_id))
    group by 1
)
select * from final
order by rejected desc, warned desc, institution_id
