-- grain: one row per month × extract kind, from the first to the last month with any recognised file
-- materialized: table
-- depends_on: audit.load_log, audit.rejected_rows, audit.row_warnings
-- owner: validation
-- What the office received and what validation made of it. A month without a file of a kind
-- has file_present = false (its indicators are no_data). The row counts are those of the
-- current version (the `loaded` one; when no version of the month could be loaded, the latest
-- one received, e.g. a file_rejected file). rows_warned counts accepted rows with at least
-- one W finding; top_rules lists every rule that fired on the current version, most frequent
-- first, as RULE-ID×count (a file-level warning counts once).
with recognised as (
    select kind, period, sha256, file_path, status, rows_read, rows_accepted, rows_rejected,
           rows_duplicate, loaded_at
    from audit.load_log
    where kind is not null and period is not null and status <> 'withdrawn'
),

months as (
    select strftime(unnest(generate_series(
        strptime(min(period), '%Y-%m'), strptime(max(period), '%Y-%m'), interval 1 month
    )), '%Y-%m') as period
    from recognised
),

kinds as (
    select * from (values ('institutions', 1), ('enrollment', 2), ('staffing', 3)) as k (kind, kind_order)
),

versions as (
    select kind, period, count(distinct sha256) as versions_received
    from recognised
    group by kind, period
),

current_version as (
    select *
    from recognised
    qualify row_number() over (
        partition by kind, period
        order by (status = 'loaded') desc, loaded_at desc, file_path desc
    ) = 1
),

warned as (
    select w.kind, w.period, w.sha256, count(distinct w.row_number) as rows_warned
    from audit.row_warnings as w
    where w.row_number > 0
      and not exists (
          select 1 from audit.rejected_rows as r
          where r.kind = w.kind and r.period = w.period and r.sha256 = w.sha256 and r.row_number = w.row_number
      )
    group by w.kind, w.period, w.sha256
),

rule_counts as (
    select kind, period, sha256, rule_id, count(*) as n
    from (
        select kind, period, sha256, rule_id from audit.rejected_rows
        union all
        select kind, period, sha256, rule_id from audit.row_warnings
    ) as findings
    group by kind, period, sha256, rule_id
),

top_rules as (
    select kind, period, sha256,
           string_agg(rule_id || '×' || n, '; ' order by n desc, rule_id) as top_rules
    from rule_counts
    group by kind, period, sha256
),

final as (
    select
        m.period,
        k.kind,
        c.kind is not null as file_present,
        c.file_path,
        c.sha256,
        c.status,
        coalesce(v.versions_received, 0) as versions_received,
        coalesce(v.versions_received, 0) > 1 as revised,
        c.rows_read,
        c.rows_accepted,
        c.rows_rejected,
        c.rows_duplicate,
        case when c.status = 'loaded' then coalesce(w.rows_warned, 0) end as rows_warned,
        t.top_rules,
        k.kind_order
    from months as m
    cross join kinds as k
    left join current_version as c on c.kind = k.kind and c.period = m.period
    left join versions as v on v.kind = k.kind and v.period = m.period
    left join warned as w on w.kind = c.kind and w.period = c.period and w.sha256 = c.sha256
    left join top_rules as t on t.kind = c.kind and t.period = c.period and t.sha256 = c.sha256
)

select * exclude (kind_order) from final
order by period, kind_order
