-- reads: audit.rejected_rows, audit.row_warnings
-- instead_of: audit.rejected_rows, audit.row_warnings
--
-- What the rules found in each institution's rows, counted: one row per file version ×
-- institution × rule, without any row's values (those stay in the warehouse, for
-- `tuoyu fix`). A count of an institution's enrollment rows is a count of children below
-- the 镇街, and some rules cross them by a personal attribute (ENR-AGE-36: aged 36 months
-- or more; ENR-SEX…: sex), so for enrollment rows a count of 1–4 reads `<5` for every rule
-- (one rule is simpler to trust than a list of rules; extract-format.md §4). Institution
-- and staff rows are counted exactly. `rows` is text ('<5', '7').
-- Findings without an institution (empty 机构编号, file-level checks) are not here: see
-- audit.finding_counts.

with findings as (

    select * exclude (row_values) from audit.rejected_rows
    union all by name
    select * exclude (row_values) from audit.row_warnings

),

counted as (

    select
        sha256,
        kind,
        period,
        institution_id,
        severity,
        rule_id,
        min(message) as message,
        count(distinct row_number) as n
    from findings
    where institution_id is not null
    group by sha256, kind, period, institution_id, severity, rule_id

)

select
    * exclude (n),
    case when kind = 'enrollment' then small_count(n) else cast(n as varchar) end as rows
from counted
order by period, kind, sha256, institution_id, severity, rule_id
