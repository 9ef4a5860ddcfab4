-- question_zh: 某个机构有多少数据行被剔除（未计入指标），在哪些文件、因为哪些规则？
-- question_en: How many rows of one institution were rejected (left out of the indicators), in which files, and why?
-- reads: audit.institution_finding_counts, audit.load_log
-- param: $institution_id 机构编号，与报表中所填一致 / the institution id as in the extracts
--
-- Per file version in use (status loaded) and rule, newest month first: how many of the
-- institution's rows the rule rejected. Counts of children's rows of 1–4 read `<5`
-- (a published count of children below the 镇街). Which rows, with their line in the file,
-- is for the office to see in the warehouse: `tuoyu fix 机构编号` lists them.

with rejected as (

    select sha256, kind, period, rule_id, message, rows
    from audit.institution_finding_counts
    where institution_id = $institution_id
      and severity = 'R'

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
        rejected.rule_id as "规则",
        rejected.message as "原因",
        rejected.rows as "剔除行数"
    from rejected
    inner join files
        on files.sha256 = rejected.sha256
        and files.kind = rejected.kind
        and files.period = rejected.period

)

select * from final
order by "月份" desc, "文件", "规则"
