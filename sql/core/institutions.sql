-- grain: one accepted institution row per month (period = the month in the file's name)
-- materialized: view
-- depends_on: staging.institutions, audit.current_files, audit.rejected_rows
-- The rows of the loaded version of each month's institutions file that are not collapsed
-- duplicates and failed no R rule; W rows are included. Typed values only (no *_raw).
with current_rows as (
    select s.*
    from staging.institutions as s
    join audit.current_files as f
        on f.kind = 'institutions' and f.period = s.period_file and f.sha256 = s.sha256
    where not s.is_duplicate
),

accepted as (
    select c.*
    from current_rows as c
    where not exists (
        select 1 from audit.rejected_rows as r
        where r.kind = 'institutions' and r.sha256 = c.sha256 and r.period = c.period_file and r.row_number = c.row_number
    )
),

final as (
    select
        period_file as period,
        institution_id,
        name,
        credit_code,
        area_code,
        institution_type,
        affordable,
        demonstration,
        demonstration_date,
        registration_date,
        filing_status,
        filing_date,
        places,
        cctv_full_coverage,
        fire_safety_passed,
        operating_status,
        sha256,
        row_number
    from accepted
)

select * from final
