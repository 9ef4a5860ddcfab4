-- question_zh: 某月有哪些需要核实的数字（数据核查提示），哪些已核实？
-- question_en: Which figures of a given month are flagged for verification by the data-quality checks, and which were confirmed?
-- reads: marts.quality_flags, audit.quality_confirmations, reference.areas
-- param: $period 统计月份 YYYY-MM，如 2024-03 / the month
--
-- One row per flag of marts.quality_flags (docs/quality.md): the check in Chinese, the
-- institution (or, for AREA-JUMP, the 镇街 or county), the figure, the range in which it
-- would not have been flagged, what to verify, and whether the office confirmed it
-- (`tuoyu quality confirm`, audit.quality_confirmations) with its note. Open flags first.

with flags as (

    select period, area_code, institution_id, check_id, measure, value, expected_low, expected_high,
           score, message_zh, flag_key
    from marts.quality_flags
    where period = $period

),

confirmations as (

    select flag_key, note, confirmed_at
    from audit.quality_confirmations

),

areas as (

    select area_code, area_name
    from reference.areas

),

final as (

    select
        flags.period as "月份",
        case flags.check_id
            when 'OUT-SERIES' then '机构数字异常'
            when 'CON-OVERCAPACITY' then '超额收托'
            when 'CON-NO-CAREGIVER' then '无保育人员'
            when 'CON-VANISHED' then '机构消失'
            when 'AREA-JUMP' then '区域合计突变'
        end as "核查",
        areas.area_name as "镇街",
        flags.institution_id as "机构编号",
        case flags.measure
            when 'places' then '核定托位数'
            when 'children' then '在托幼儿数'
            when 'staff' then '从业人员数'
            when 'caregivers' then '保育人员数'
        end as "数字",
        flags.value as "数值",
        round(flags.expected_low, 1) as "正常范围下限",
        round(flags.expected_high, 1) as "正常范围上限",
        round(flags.score, 2) as "分数",
        flags.message_zh as "说明",
        confirmations.flag_key is not null as "已核实",
        confirmations.note as "核实说明",
        flags.flag_key as "提示键"
    from flags
    left join confirmations
        on confirmations.flag_key = flags.flag_key
    left join areas
        on areas.area_code = flags.area_code

)

select * from final
order by "已核实", "核查", "镇街", "机构编号", "数字"
