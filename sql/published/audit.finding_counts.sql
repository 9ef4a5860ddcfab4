-- reads: audit.rejected_rows, audit.row_warnings
-- instead_of: audit.rejected_rows, audit.row_warnings
--
-- What the rules found, counted: one row per file version × rule. Published instead of
-- audit.rejected_rows and audit.row_warnings, whose rows are rows of a child or a staff
-- member (row_values holds the pseudonym, birth date, sex): those stay in the warehouse,
-- for `tuoyu fix` (extract-format.md §4: no per-child or per-staff row is published).
-- The counts are of the county's whole file (not below the 镇街): exact numbers.
-- severity: R rejected (the row is not counted in any indicator), W warning (counted).

with findings as (

    select * exclude (row_values) from audit.rejected_rows
    union all by name
    select * exclude (row_values) from audit.row_warnings

)

select
    sha256,
    kind,
    period,
    severity,
    rule_id,
    min(message) as message,
    count(distinct row_number) as rows,
    count(distinct institution_id) as institutions
from findings
group by sha256, kind, period, severity, rule_id
order by period, kind, sha256, severity, rule_id
