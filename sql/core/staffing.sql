-- grain: one accepted staff row per month (a staff member employed at month end; period = the file's month)
-- materialized: view
-- depends_on: staging.staffing, audit.current_files, audit.rejected_rows
-- The rows of the loaded version of each month's staffing file that are not collapsed
-- duplicates and failed no R rule (including STF-INSTITUTION); W rows are included.
-- The staff member appears only as a pseudonym.
with current_rows as (
    select s.*
    from staging.staffing as s
    join audit.current_files as f
        on f.kind = 'staffing' and f.period = s.period_file and f.sha256 = s.sha256
    where not s.is_duplicate
),

accepted as (
    select c.*
    from current_rows as c
    where not exists (
        select 1 from audit.rejected_rows as r
        where r.kind = 'staffing' and r.sha256 = c.sha256 and r.period = c.period_file and r.row_number = c.row_number
    )
),

final as (
    select
        period_file as period,
        institution_id,
        staff_pseudonym,
        role,
        certificate,
        pre_service_training,
        criminal_record_check,
        hire_date,
        sha256,
        row_number
    from accepted
)

select * from final
