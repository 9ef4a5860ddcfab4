-- question_zh: 各月各报表因哪些规则剔除了多少行？
-- question_en: How many rows did each rule reject, per month and extract kind?
-- reads: audit.finding_counts, audit.current_files
--
-- Rejected rows (R rules) of the file versions in use, counted by rule, most frequent
-- first within each month. A row that failed two rules counts under both. The rows
-- themselves are not in the published copy (they are a child's or a staff member's):
-- the office lists them with `tuoyu fix 机构编号`.

with rejected as (

    select finding_counts.kind, finding_counts.period, finding_counts.rule_id, finding_counts.message,
           finding_counts.rows
    from audit.finding_counts as finding_counts
    inner join audit.current_files as current_files
        on current_files.sha256 = finding_counts.sha256
        and current_files.kind = finding_counts.kind
        and current_files.period = finding_counts.period
    where finding_counts.severity = 'R'

),

final as (

    select
        period as "月份",
        case kind when 'institutions' then '托育机构' when 'enrollment' then '在托幼儿' when 'staffing' then '从业人员' else kind end as "报表",
        rule_id as "规则",
        rows as "剔除行数",
        message as "原因"
    from rejected

)

select * from final
order by "月份" desc, "报表", "剔除行数" desc, "规则"
