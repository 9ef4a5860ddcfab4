-- question_zh: 各月各报表因哪些规则剔除了多少行？
-- question_en: How many rows did each rule reject, per month and extract kind?
-- reads: audit.rejected_rows, audit.current_files
--
-- Rejected rows (R rules) of the file versions in use, counted by rule, most frequent
-- first within each month. A row that failed two rules counts under both; "剔除行数"
-- counts distinct rows. One message per rule is shown as an example.

with rejected as (

    select rejected_rows.kind, rejected_rows.period, rejected_rows.sha256, rejected_rows.row_number,
           rejected_rows.rule_id, rejected_rows.message
    from audit.rejected_rows as rejected_rows
    inner join audit.current_files as current_files
        on current_files.sha256 = rejected_rows.sha256
        and current_files.kind = rejected_rows.kind
        and current_files.period = rejected_rows.period

),

per_rule as (

    select
        period,
        kind,
        rule_id,
        count(*) as findings,
        count(distinct row_number) as rows_rejected,
        min(message) as example_message
    from rejected
    group by period, kind, rule_id

),

final as (

    select
        period as "月份",
        case kind when 'institutions' then '托育机构' when 'enrollment' then '在托幼儿' when 'staffing' then '从业人员' else kind end as "报表",
        rule_id as "规则",
        rows_rejected as "剔除行数",
        example_message as "原因示例",
        findings
    from per_rule

)

select * exclude (findings) from final
order by "月份" desc, "报表", findings desc, "规则"
