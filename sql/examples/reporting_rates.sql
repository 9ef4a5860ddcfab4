-- question_zh: 三类报表近 12 个月报送是否完整、及时？
-- question_en: How completely and how promptly did each kind of extract arrive over the twelve months up to a given month?
-- reads: marts.reporting_rates
-- param: $period 统计月份 YYYY-MM，如 2024-03 / the last month of the windows
--
-- Completeness and timeliness (WHO Data Quality Review) from marts.reporting_rates
-- (docs/quality.md) for the windows of 1, 3 and 12 months ending at $period: months
-- expected, received, on time (first seen by day 10 of the next month), late, backfilled
-- (due before the pipeline's first run: received, neither on time nor late) and missing.

with rates as (

    select kind, period, window_months, first_period, expected, received, on_time, late, backfilled,
           missing, received_rate, on_time_rate
    from marts.reporting_rates
    where period = $period

),

final as (

    select
        case rates.kind
            when 'institutions' then '托育机构'
            when 'enrollment' then '在托幼儿'
            when 'staffing' then '从业人员'
        end as "报表",
        rates.window_months as "统计月数",
        rates.first_period || '至' || rates.period as "月份范围",
        rates.expected as "应报",
        rates.received as "已收到",
        rates.on_time as "按时",
        rates.late as "迟报",
        rates.backfilled as "补录",
        rates.missing as "缺报",
        round(rates.received_rate, 1) as "报送率（%）",
        round(rates.on_time_rate, 1) as "及时率（%）",
        list_position(['institutions', 'enrollment', 'staffing'], rates.kind) as kind_order
    from rates

)

select * exclude (kind_order) from final
order by "统计月数", kind_order
