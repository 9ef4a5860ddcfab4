"""Stage 2 — validate: the contract's row rules (expectations/) over the staged months."""


import dagster as dg

from pipeline.orchestration.assets.ingest import staged_extracts
from pipeline.ingest.load import clear_pending, pending_scope
from pipeline.orchestration.resources import Tuoyu
from pipeline.warehouse.schema import KINDS
from pipeline.validate.trust import file_trust, threshold


@dg.asset(group_name="validate", key=["audit", "validated_extracts"], deps=[staged_extracts], description=(
    "Runs the Great Expectations suites of expectations/ inside the warehouse on every month "
    "whose extracts changed: failing rows go to audit.rejected_rows (R) or audit.row_warnings (W); "
    "core.institutions / enrollment / staffing hold the accepted rows."))
def validated_extracts(context: dg.AssetExecutionContext, tuoyu: dg.ResourceParam[Tuoyu]) -> dg.MaterializeResult:
    from pipeline.validate.run import validate_or_set_aside  # imports great_expectations: only when validating

    with tuoyu.connection() as con:
        scope = pending_scope(con)
    if not scope:
        context.log.info("nothing new to validate")
        return dg.MaterializeResult(metadata={"months_validated": 0})
    with tuoyu.connection() as con:  # a file that fails validation is set aside, named
        report = validate_or_set_aside(con, scope, strict=tuoyu.settings().strict_checks)
    with tuoyu.connection() as con:
        clear_pending(con, scope)
    for kind, period, path in report.set_aside:
        context.log.warning(f"file set aside ({kind} {period}): {path}: GX and the audit rows disagree")
    by_rule = report.counts_by_rule()
    return dg.MaterializeResult(metadata={
        "files_set_aside": dg.MetadataValue.json([path for _, _, path in report.set_aside]),
        "months_validated": sum(len(v) for v in scope.values()),
        "rows_rejected": report.rows_rejected,
        "rows_warned": report.rows_warned,
        "failures_by_rule": dg.MetadataValue.json(by_rule),
    })


def _file_check(kind: str) -> dg.AssetChecksDefinition:
    # Not blocking: extract-format.md §5 wants every asset brought up to date and exit 0 when rows
    # are quarantined, with the rest of the file's rows used (§2). A file this bad is named
    # in the run summary and in the Dagster UI, and its month's figures stand on the rows
    # that passed (docs/decisions.md).
    @dg.asset_check(asset=validated_extracts, name=f"{kind}_files_trustworthy", blocking=False,
                    description=f"No current {kind} file has more than the suite's share of rows rejected; "
                                "rejections by rule are listed (counts only).")
    def check(tuoyu: dg.ResourceParam[Tuoyu]) -> dg.AssetCheckResult:
        limit, excluded = threshold(kind)
        with tuoyu.connection() as con:
            files = file_trust(con, kind)
            by_rule = dict(con.execute(
                """select r.rule_id, count(*) from audit.rejected_rows r
                   join audit.current_files c using (kind, period, sha256) where c.kind = ?
                   group by r.rule_id order by 2 desc""", [kind]).fetchall())
        bad = [t for t in files if not t.trusted]
        untrusted = [f"{t.period} {t.file_path}: {t.rows_rejected_own}/{t.rows_read}" for t in bad]
        advice = "；".join(
            f"文件 {t.file_path}（{t.period}）{t.rows_read} 行中有 {t.rows_rejected_own} 行因自身错误被剔除，"
            f"超过 {limit:.0%}，该文件不可信" for t in bad)
        worst = max((t.share for t in files), default=0.0)
        return dg.AssetCheckResult(
            passed=not untrusted,
            severity=dg.AssetCheckSeverity.WARN,
            description=(advice + "。该月指标只依据其余通过校验的行，请谨慎使用；请运行 tuoyu fix <机构编号> "
                         "或 tuoyu status 查看原因，更正后重新报送该文件。") if untrusted else None,
            metadata={
                "files": len(files),
                "worst_rejected_share": round(worst, 4),
                "threshold": limit,
                "not_counted_rules": dg.MetadataValue.json(excluded),
                "untrusted_files": dg.MetadataValue.json(untrusted),
                "rejected_by_rule": dg.MetadataValue.json({k: int(v) for k, v in by_rule.items()}),
            },
        )

    return check


validation_checks = [_file_check(kind) for kind in KINDS]
