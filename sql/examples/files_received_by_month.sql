-- question_zh: 每个月收到了哪些报表文件，何时收到，是否修订、被拒收？
-- question_en: Which extract files arrived for each month, when, and were any revised or rejected?
-- reads: audit.load_log
--
-- One row per month × kind from the load log: versions received (distinct contents),
-- the version in use, when it was first read, and its row counts. A kind × month that
-- never arrived has no row here; `tuoyu status` and marts.data_quality list those.

with files as (

    select file_path, kind, period, sha256, status, rows_read, rows_rejected, loaded_at
    from audit.load_log
    where kind is not null
      and period is not null
      and status <> 'unrecognised'

),

per_month as (

    select
        period,
        kind,
        count(distinct sha256) filter (where status <> 'unchanged') as versions,
        count(*) filter (where status = 'file_rejected') as files_rejected,
        min(loaded_at) as first_received_at,
        max(loaded_at) as last_received_at,
        any_value(file_path) filter (where status = 'loaded') as file_in_use,
        any_value(loaded_at) filter (where status = 'loaded') as in_use_since,
        any_value(rows_read) filter (where status = 'loaded') as rows_read,
        any_value(rows_rejected) filter (where status = 'loaded') as rows_rejected
    from files
    group by period, kind

),

final as (

    select
        period as "月份",
        case kind when 'institutions' then '托育机构' when 'enrollment' then '在托幼儿' when 'staffing' then '从业人员' else kind end as "报表",
        versions as "版本数",
        versions > 1 as "有修订",
        files_rejected as "被拒收文件数",
        first_received_at as "首次收到",
        last_received_at as "最近收到",
        file_in_use as "在用文件",
        in_use_since as "在用版本收到时间",
        rows_read as "读取行数",
        rows_rejected as "剔除行数",
        case kind when 'institutions' then 1 when 'enrollment' then 2 else 3 end as kind_order
    from per_month

)

select * exclude (kind_order) from final
order by "月份", kind_order
