"""Print the rule table of docs/validation.md from the suites: `python -m pipeline.validate`."""

from pipeline.validate.suites import load_suites, rules_markdown

print(rules_markdown(load_suites()), end="")
