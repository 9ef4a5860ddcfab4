-- reads: marts.institution_enrollment
--
-- marts.institution_enrollment as analysts see it. 班型 is an age band (乳儿班 6–12
-- months, 托小班 12–24, 托大班 24–36): an institution's count of children in one 班型 is a
-- count of children crossed by age below the 镇街, so a count of 1–4 reads `<5`
-- (extract-format.md §4) and the three class columns are text ('0', '<5', '12').
-- The institution's totals (enrollment_rows, children) cross children by nothing
-- personal and stay numbers; so does required_caregivers, which the ratio rule and the
-- example institutions_out_of_ratio need (docs/decisions.md says what it still reveals).

select * replace (
    small_count(infant_class_rows) as infant_class_rows,
    small_count(younger_toddler_class_rows) as younger_toddler_class_rows,
    small_count(older_toddler_class_rows) as older_toddler_class_rows
)
from marts.institution_enrollment
order by period, institution_id
