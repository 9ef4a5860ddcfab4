-- question_zh: 哪些政策目标尚未达成（已到期未达成、待到期、或到期月份无数据）？
-- question_en: Which policy targets are not attained: missed at their deadline, still pending, or without data?
-- reads: marts.target_verdicts
--
-- One row per target of reference.targets that is not attained at its deadline, with
-- where the indicator stands now (latest month with a county value, and its status).
-- verdict: not_attained 到期未达成 / pending 尚未到期 / no_data 到期月份无数据.

with verdicts as (

    select
        indicator_id,
        name_zh,
        comparison,
        target_value,
        deadline,
        clause,
        lead_unit,
        verdict,
        deadline_value,
        gap,
        latest_period,
        latest_value,
        latest_status
    from marts.target_verdicts
    where verdict <> 'attained'

),

final as (

    select
        indicator_id as "指标",
        name_zh as "指标名称",
        comparison || ' ' || target_value as "目标",
        deadline as "截止月份",
        case verdict
            when 'not_attained' then '到期未达成'
            when 'pending' then '尚未到期'
            when 'no_data' then '到期月份无数据'
            else verdict
        end as "判定",
        deadline_value as "截止月份数值",
        gap as "差距",
        latest_period as "最新月份",
        latest_value as "最新数值",
        case latest_status
            when 'attained' then '已达成'
            when 'not_attained' then '未达成'
            when 'on_track' then '按期推进'
            when 'needs_acceleration' then '需加快'
            when 'limited_progress' then '进展有限'
            when 'regressing' then '倒退'
            when 'insufficient_data' then '数据不足'
            when 'no_data' then '无数据'
            else latest_status
        end as "最新状态",
        lead_unit as "牵头单位",
        clause as "政策条款"
    from verdicts

)

select * from final
order by "截止月份", "指标"
