-- grain: one accepted enrollment row per month (a child enrolled at month end; period = the file's month)
-- materialized: view
-- depends_on: staging.enrollment, audit.current_files, audit.rejected_rows
-- The rows of the loaded version of each month's enrollment file that are not collapsed
-- duplicates and failed no R rule (including ENR-INSTITUTION: their institution is in
-- core.institutions for the month); W rows are included. The child appears only as a pseudonym.
with current_rows as (
    select s.*
    from staging.enrollment as s
    join audit.current_files as f
        on f.kind = 'enrollment' and f.period = s.period_file and f.sha256 = s.sha256
    where not s.is_duplicate
),

accepted as (
    select c.*
    from current_rows as c
    where not exists (
        select 1 from audit.rejected_rows as r
        where r.kind = 'enrollment' and r.sha256 = c.sha256 and r.period = c.period_file and r.row_number = c.row_number
    )
),

final as (
    select
        period_file as period,
        institution_id,
        child_pseudonym,
        birth_date,
        sex,
        class_type,
        care_mode,
        enrollment_date,
        sha256,
        row_number
    from accepted
)

select * from final
