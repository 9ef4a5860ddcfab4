-- question_zh: 哪些月份的数据不完整（缺报表、文件无法读取或数据行全部被剔除）？
-- question_en: Which months are incomplete: an extract missing, a file rejected, or every row rejected?
-- reads: marts.data_quality
--
-- One row per month × kind that needs the office's attention, from marts.data_quality:
-- never delivered, delivered but no version could be read (file_rejected), or every row
-- of the version in use rejected.
-- The indicators that need that kind are NULL (no data) for the month. `tuoyu status`
-- shows the same at a glance.

with quality as (

    select period, kind, file_present, file_path, status, versions_received, rows_read, rows_accepted, rows_rejected
    from marts.data_quality

),

final as (

    select
        period as "月份",
        case kind when 'institutions' then '托育机构' when 'enrollment' then '在托幼儿' when 'staffing' then '从业人员' else kind end as "报表",
        case
            when not file_present then '未收到'
            when status = 'file_rejected' then '文件被拒收'
            else '数据行全部被剔除'
        end as "问题",
        file_path as "文件",
        versions_received as "收到版本数",
        rows_read as "读取行数",
        rows_rejected as "剔除行数",
        case kind when 'institutions' then 1 when 'enrollment' then 2 else 3 end as kind_order
    from quality
    where not file_present
       or status = 'file_rejected'
       or (rows_read > 0 and rows_accepted = 0)

)

select * exclude (kind_order) from final
order by "月份", kind_order
