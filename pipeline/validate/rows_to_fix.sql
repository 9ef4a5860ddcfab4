-- The rows of one institution that the office must fix: every failed rule of its rows in the
-- current file versions, by month and file, rejected (R) before warned (W). Parameters: $institution_id
-- (matched without regard to case or surrounding spaces), $period (NULL = all months).
-- Values are the row's text as delivered, id numbers as pseudonyms; no names exist here.
with findings as (
    select * from audit.rejected_rows
    union all by name
    select * from audit.row_warnings
),
final as (
    select
        f.period,
        f.kind,
        cf.file_path,
        f.row_number,
        f.source_row,
        f.severity,
        f.rule_id,
        f.message,
        f.row_values
    from findings as f
    join audit.current_files as cf on cf.kind = f.kind and cf.period = f.period and cf.sha256 = f.sha256
    where upper(trim(f.institution_id)) = upper(trim($institution_id))
      and ($period is null or f.period = $period)
)
select * from final
order by period, kind, severity, row_number, rule_id
