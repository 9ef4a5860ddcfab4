-- question_zh: 某个机构被剔除（未计入指标）的数据行有哪些，为什么？
-- question_en: Which rows of one institution were rejected (left out of the indicators), and why?
-- reads: audit.rejected_rows, audit.load_log
-- param: $institution_id 机构编号，与报表中所填一致 / the institution id as in the extracts
--
-- Every rule a row failed, newest month first, with the file and the row as the office
-- sees it (source_row: the line in the CSV or the row in the sheet). Only the version of
-- each file that is in use (status loaded) is shown; row values have names removed and
-- id numbers pseudonymised.

with rejected as (

    select sha256, kind, period, row_number, source_row, institution_id, rule_id, severity, message, row_values
    from audit.rejected_rows
    where institution_id = $institution_id

),

files as (

    select kind, period, sha256, file_path
    from audit.load_log
    where status = 'loaded'

),

final as (

    select
        rejected.period as "月份",
        case rejected.kind when 'institutions' then '托育机构' when 'enrollment' then '在托幼儿' when 'staffing' then '从业人员' else rejected.kind end as "报表",
        files.file_path as "文件",
        rejected.source_row as "文件中的行",
        rejected.rule_id as "规则",
        rejected.message as "原因",
        rejected.row_values as "行内容"
    from rejected
    inner join files
        on files.sha256 = rejected.sha256
        and files.kind = rejected.kind
        and files.period = rejected.period

)

select * from final
order by "月份" desc, "文件", "文件中的行", "规则"
