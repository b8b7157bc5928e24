"""Curation: keep the problems the policy can learn from (pass rate inside a window).

- `estimate`   the adaptive stopping rule (pure; Beta-binomial predictive, empirical-Bayes prior)
- `runner`     `curate(policy, problems, cfg)`: lockstep rounds of generation + verification
- `curriculum` `Curriculum`: raise the difficulty levels drawn from as the pass rate rises
- `export`     verl Parquet and TRL dataset layouts
- `report`     report.html for a curate run
See docs/curate.md.
"""
