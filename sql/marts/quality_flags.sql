-- grain: one row per flag: check_id × period × institution (area checks: × area) × measure
-- materialized: table
-- incremental_by: period
-- depends_on: marts.month_calendar, marts.operating_institutions, marts.institution_enrollment, marts.institution_staffing, marts.area_measures, staging.institutions, audit.current_files, audit.quality_confirmations, reference.areas, reference.quality_parameters
-- owner: quality review (docs/quality.md): flags, not indicators
--
-- Figures to verify before they reach a report (docs/quality.md). A flag never changes a
-- figure; it says what to check. The parameters come from quality.toml
-- (reference.quality_parameters).
--   OUT-SERIES        an institution's places / children / staff / caregivers far from its
--                     own history H (the up to 12 months M−12…M−1 in which it was in
--                     O(month) and the month had the measure's extract; M must have it too):
--                     when |H| ≥ 4, med = median(H) (an even count: the mean of the two
--                     middle values), MAD = median(|h − med|), MAD* = max(MAD, 0.1 × |med|, 2),
--                     z = 0.6745 × (x − med) ÷ MAD*; flag when |z| > 3.5; score = z;
--                     expected range med ∓ 3.5 × MAD* ÷ 0.6745.
--   CON-OVERCAPACITY  more distinct enrolled children than places (enrollment extract).
--   CON-NO-CAREGIVER  ≥ 1 enrolled child and no accepted caregiver row (staffing extract).
--   CON-VANISHED      in O(M−1), and no row at all (accepted or quarantined) in M's
--                     institutions extract; its area is that of M−1; measure empty.
--   AREA-JUMP         the county's and each 镇街's places / children / staff against the mean
--                     m of M−3…M−1 (≥ 2 of them present; an area without institutions counts
--                     0): flag when m > 0, |x − m| ≥ 10 and |x ÷ m − 1| > 0.33; score = x ÷ m − 1.
-- Score is NULL for the CON checks. flag_key (check/period/institution or area/measure/value)
-- identifies the flagged figure in audit.quality_confirmations: a confirmation survives
-- re-runs and revisions of other months; a revision changing the value opens a new flag.
--
-- Built for the months pipeline/marts/quality_build.py names (the DuckDB variable
-- tuoyu_build_periods; unset: every month): a month's flags read its own figures and those
-- of up to `reach` = max(out_series_history_months, area_jump_months, 1) earlier months, so
-- that module rebuilds a changed month and the `reach` months after it, and a new month
-- costs its own flags only. `wanted` is the months built, `calendar` them and the months
-- their checks look back on; every check reads its months through one of the two.

with parameters as (

    select
        out_series_history_months,
        out_series_min_history,
        out_series_threshold,
        out_series_mad_floor_share,
        out_series_mad_floor,
        area_jump_months,
        area_jump_min_present,
        area_jump_min_difference,
        area_jump_max_relative_change
    from reference.quality_parameters

),

wanted as (

    select period, month_index, has_institutions
    from marts.month_calendar
    where getvariable('tuoyu_build_periods') is null                  -- every month
       or list_contains(getvariable('tuoyu_build_periods'), period)   -- or those named

),

calendar as (

    select all_months.period, all_months.month_index, all_months.has_institutions
    from marts.month_calendar as all_months
    cross join parameters
    where getvariable('tuoyu_build_periods') is null
       or exists (
           select 1
           from wanted
           where all_months.month_index
                 between wanted.month_index
                         - greatest(parameters.out_series_history_months, parameters.area_jump_months, 1)
                     and wanted.month_index
       )

),

measure_names as (

    select measure, measure_zh, unit_zh
    from (values
        ('places', '核定托位数', '个'),
        ('children', '在托幼儿数', '人'),
        ('staff', '从业人员数', '人'),
        ('caregivers', '保育人员数', '人')
    ) as names (measure, measure_zh, unit_zh)

),

-- Each institution's figure per month in which it was in O(M) and M had the measure's
-- extract (the per-institution tables have rows only for such months).
institution_figures as (

    select operating.period, operating.institution_id, operating.area_code,
           'places' as measure, cast(operating.places as double) as value
    from marts.operating_institutions as operating
    where operating.places is not null

    union all

    select enrollment.period, enrollment.institution_id, enrollment.area_code,
           'children' as measure, cast(enrollment.children as double) as value
    from marts.institution_enrollment as enrollment

    union all

    select staffing.period, staffing.institution_id, staffing.area_code,
           'staff' as measure, cast(staffing.staff_rows as double) as value
    from marts.institution_staffing as staffing

    union all

    select staffing.period, staffing.institution_id, staffing.area_code,
           'caregivers' as measure, cast(staffing.caregivers as double) as value
    from marts.institution_staffing as staffing

),

-- H: the figures of the months M−12…M−1 that have a row above.
histories as (

    select
        institution_figures.period,
        institution_figures.institution_id,
        institution_figures.area_code,
        institution_figures.measure,
        institution_figures.value,
        list(institution_figures.value) over history_window as history
    from institution_figures
    inner join calendar
        on calendar.period = institution_figures.period
    cross join parameters
    window history_window as (
        partition by institution_figures.institution_id, institution_figures.measure
        order by calendar.month_index
        range between parameters.out_series_history_months preceding and 1 preceding
    )

),

medians as (

    select
        histories.period,
        histories.institution_id,
        histories.area_code,
        histories.measure,
        histories.value,
        histories.history,
        list_median(histories.history) as med
    from histories
    inner join wanted
        on wanted.period = histories.period
    cross join parameters
    where len(histories.history) >= parameters.out_series_min_history

),

-- Only figures that could be flagged need their MAD: MAD* ≥ max(0.1 × |med|, 2), so
-- |z| ≤ 0.6745 × |x − med| ÷ max(0.1 × |med|, 2), and a figure whose bound is within the
-- threshold cannot be flagged. (Computing the MAD of every figure is most of the cost.)
candidates as (

    select
        medians.period,
        medians.institution_id,
        medians.area_code,
        medians.measure,
        medians.value,
        medians.history,
        medians.med
    from medians
    cross join parameters
    where abs(0.6745 * (medians.value - medians.med)
              / greatest(parameters.out_series_mad_floor_share * abs(medians.med),
                         parameters.out_series_mad_floor))
          > parameters.out_series_threshold

),

scored as (

    select
        candidates.period,
        candidates.institution_id,
        candidates.area_code,
        candidates.measure,
        candidates.value,
        len(candidates.history) as history_months,
        candidates.med,
        greatest(
            list_median(list_transform(candidates.history, lambda h: abs(h - candidates.med))),
            parameters.out_series_mad_floor_share * abs(candidates.med),
            parameters.out_series_mad_floor
        ) as mad_star,
        parameters.out_series_threshold as threshold
    from candidates
    cross join parameters

),

out_series as (

    select
        scored.period,
        scored.area_code,
        scored.institution_id,
        'OUT-SERIES' as check_id,
        scored.measure,
        scored.value,
        scored.med - scored.threshold * scored.mad_star / 0.6745 as expected_low,
        scored.med + scored.threshold * scored.mad_star / 0.6745 as expected_high,
        0.6745 * (scored.value - scored.med) / scored.mad_star as score,
        scored.history_months,
        scored.med
    from scored
    where abs(0.6745 * (scored.value - scored.med) / scored.mad_star) > scored.threshold

),

out_series_flags as (

    select
        out_series.period,
        out_series.area_code,
        out_series.institution_id,
        out_series.check_id,
        out_series.measure,
        out_series.value,
        out_series.expected_low,
        out_series.expected_high,
        out_series.score,
        '本月' || measure_names.measure_zh || '为 ' || cast(cast(out_series.value as bigint) as varchar)
            || '，该机构此前 ' || cast(out_series.history_months as varchar) || ' 个月的中位数为 '
            || regexp_replace(cast(round(out_series.med, 1) as varchar), '\.0$', '')
            || '（正常范围约 '
            || regexp_replace(cast(round(greatest(out_series.expected_low, 0), 1) as varchar), '\.0$', '')
            || '–' || regexp_replace(cast(round(out_series.expected_high, 1) as varchar), '\.0$', '')
            || '），相差过大：请与机构核实该数字是否填报有误（如多打或少打一位数）。' as message_zh
    from out_series
    inner join measure_names
        on measure_names.measure = out_series.measure

),

over_capacity_flags as (

    select
        enrollment.period,
        enrollment.area_code,
        enrollment.institution_id,
        'CON-OVERCAPACITY' as check_id,
        'children' as measure,
        cast(enrollment.children as double) as value,
        cast(0 as double) as expected_low,
        cast(operating.places as double) as expected_high,
        cast(null as double) as score,
        '在托幼儿 ' || cast(enrollment.children as varchar) || ' 人，超过核定托位数 '
            || cast(operating.places as varchar)
            || ' 个：请核实托位数是否填报偏低，或在托幼儿名单中是否有重复或已离园的幼儿。' as message_zh
    from marts.institution_enrollment as enrollment
    inner join wanted
        on wanted.period = enrollment.period
    inner join marts.operating_institutions as operating
        on operating.period = enrollment.period
        and operating.institution_id = enrollment.institution_id
    where enrollment.children > operating.places

),

no_caregiver_flags as (

    select
        enrollment.period,
        enrollment.area_code,
        enrollment.institution_id,
        'CON-NO-CAREGIVER' as check_id,
        'caregivers' as measure,
        cast(staffing.caregivers as double) as value,
        cast(1 as double) as expected_low,
        cast(null as double) as expected_high,
        cast(null as double) as score,
        '有在托幼儿 ' || cast(enrollment.children as varchar)
            || ' 人，但从业人员表中没有该机构的保育人员：请核实是否漏报保育人员，或岗位是否填错。' as message_zh
    from marts.institution_enrollment as enrollment
    inner join wanted
        on wanted.period = enrollment.period
    inner join marts.institution_staffing as staffing
        on staffing.period = enrollment.period
        and staffing.institution_id = enrollment.institution_id
    where enrollment.children >= 1
      and staffing.caregivers = 0

),

-- Every institution id with a row in month M's institutions extract (the current version),
-- accepted or quarantined.
delivered as (

    select distinct institutions.period_file as period, institutions.institution_id
    from staging.institutions as institutions
    inner join wanted
        on wanted.period = institutions.period_file
    inner join audit.current_files as files
        on files.kind = 'institutions'
        and files.period = institutions.period_file
        and files.sha256 = institutions.sha256
    where institutions.institution_id is not null

),

vanished_flags as (

    select
        calendar.period,
        operating.area_code,
        operating.institution_id,
        'CON-VANISHED' as check_id,
        cast(null as varchar) as measure,
        cast(null as double) as value,
        cast(null as double) as expected_low,
        cast(null as double) as expected_high,
        cast(null as double) as score,
        '上月（' || operating.period || '）正常运营，本月托育机构表中没有该机构的任何记录，'
            || '也没有报已注销或暂停运营：请核实该机构是否停办、改了机构编号或被漏报。' as message_zh
    from marts.operating_institutions as operating
    inner join calendar as previous_month
        on previous_month.period = operating.period
    inner join wanted as calendar
        on calendar.month_index = previous_month.month_index + 1
    where calendar.has_institutions
      and not exists (
          select 1
          from delivered
          where delivered.period = calendar.period
            and delivered.institution_id = operating.institution_id
      )

),

-- Area totals; NULL when the month lacks the institutions extract or the measure's.
area_figures as (

    select area_measures.period, area_measures.area_code, 'places' as measure,
           cast(area_measures.places as double) as value
    from marts.area_measures as area_measures

    union all

    select area_measures.period, area_measures.area_code, 'children' as measure,
           cast(area_measures.children as double) as value
    from marts.area_measures as area_measures

    union all

    select area_measures.period, area_measures.area_code, 'staff' as measure,
           cast(area_measures.staff_rows as double) as value
    from marts.area_measures as area_measures

),

area_means as (

    select
        area_figures.period,
        area_figures.area_code,
        area_figures.measure,
        area_figures.value,
        avg(area_figures.value) over earlier_months as mean,
        count(area_figures.value) over earlier_months as present_months
    from area_figures
    inner join calendar
        on calendar.period = area_figures.period
    cross join parameters
    window earlier_months as (
        partition by area_figures.area_code, area_figures.measure
        order by calendar.month_index
        range between parameters.area_jump_months preceding and 1 preceding
    )

),

area_jumps as (

    select
        area_means.period,
        area_means.area_code,
        area_means.measure,
        area_means.value,
        area_means.mean,
        greatest(parameters.area_jump_min_difference,
                 parameters.area_jump_max_relative_change * area_means.mean) as tolerance,
        area_means.value / area_means.mean - 1 as score,
        area_means.present_months,
        parameters.area_jump_months
    from area_means
    inner join wanted
        on wanted.period = area_means.period
    cross join parameters
    where area_means.value is not null
      and area_means.present_months >= parameters.area_jump_min_present
      and area_means.mean > 0
      and abs(area_means.value - area_means.mean) >= parameters.area_jump_min_difference
      and abs(area_means.value / area_means.mean - 1) > parameters.area_jump_max_relative_change

),

area_jump_flags as (

    select
        area_jumps.period,
        area_jumps.area_code,
        cast(null as varchar) as institution_id,
        'AREA-JUMP' as check_id,
        area_jumps.measure,
        area_jumps.value,
        greatest(area_jumps.mean - area_jumps.tolerance, 0) as expected_low,
        area_jumps.mean + area_jumps.tolerance as expected_high,
        area_jumps.score,
        areas.area_name || '本月' || measure_names.measure_zh || '合计为 '
            || cast(cast(area_jumps.value as bigint) as varchar) || '，前 '
            || cast(area_jumps.area_jump_months as varchar) || ' 个月'
            || case when area_jumps.present_months < area_jumps.area_jump_months
                    then '中有数据的 ' || cast(area_jumps.present_months as varchar) || ' 个月'
                    else '' end
            || '平均为 '
            || regexp_replace(cast(round(area_jumps.mean, 1) as varchar), '\.0$', '')
            || '，变化 ' || format('{:+.0f}', 100 * area_jumps.score)
            || '%：请核实是否有机构漏报、重复报送或数字填错。' as message_zh
    from area_jumps
    inner join measure_names
        on measure_names.measure = area_jumps.measure
    inner join reference.areas as areas
        on areas.area_code = area_jumps.area_code

),

flags as (

    select period, area_code, institution_id, check_id, measure, value, expected_low, expected_high, score, message_zh, 1 as check_order
    from out_series_flags
    union all
    select period, area_code, institution_id, check_id, measure, value, expected_low, expected_high, score, message_zh, 2 as check_order
    from over_capacity_flags
    union all
    select period, area_code, institution_id, check_id, measure, value, expected_low, expected_high, score, message_zh, 3 as check_order
    from no_caregiver_flags
    union all
    select period, area_code, institution_id, check_id, measure, value, expected_low, expected_high, score, message_zh, 4 as check_order
    from vanished_flags
    union all
    select period, area_code, institution_id, check_id, measure, value, expected_low, expected_high, score, message_zh, 5 as check_order
    from area_jump_flags

),

keyed as (

    select
        flags.period,
        flags.area_code,
        flags.institution_id,
        flags.check_id,
        flags.measure,
        flags.value,
        flags.expected_low,
        flags.expected_high,
        flags.score,
        flags.message_zh,
        flags.check_order,
        concat_ws('/', flags.check_id, flags.period, coalesce(flags.institution_id, flags.area_code),
                  coalesce(flags.measure, '-'),
                  coalesce(cast(cast(flags.value as bigint) as varchar), '-')) as flag_key
    from flags

),

final as (

    select
        keyed.period,
        keyed.area_code,
        keyed.institution_id,
        keyed.check_id,
        keyed.measure,
        keyed.value,
        keyed.expected_low,
        keyed.expected_high,
        keyed.score,
        keyed.message_zh,
        confirmations.flag_key is not null as confirmed,
        keyed.flag_key,
        keyed.check_order
    from keyed
    left join audit.quality_confirmations as confirmations
        on confirmations.flag_key = keyed.flag_key

)

select * exclude (check_order) from final
order by period, check_order, area_code, institution_id, measure
