"""The rules table of docs/guidelines.md, generated from the rule files.

python -m cds.guidelines.doc_table   # prints the markdown to paste under "## The rules"
"""

from __future__ import annotations

from cds.guidelines.engine import RuleSet, ruleset_default


def rules_table_markdown(ruleset: RuleSet) -> str:
    lines = [
        "| id | type | population | actions | section | strength | checked |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in ruleset.rules:
        acts = ", ".join(r.actions)
        if r.intensity:
            acts += f" ({r.intensity})"
        if r.combination > 1:
            acts += f" x{r.combination}"
        if r.type == "monitor":
            acts = f"{r.test} every {r.interval_days} d"
        lines.append(
            f"| `{r.id}` | {r.type} | `{r.population.source}` | {acts} | "
            f"{r.guideline} {r.edition} §{r.section} | {r.strength} | {r.verified} |"
        )
    lines += ["", f"Rule set version (sha256): `{ruleset.version}`"]
    return "\n".join(lines)


if __name__ == "__main__":
    print(rules_table_markdown(ruleset_default()))
