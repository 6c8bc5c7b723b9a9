"""Reports over runs: the static leaderboard site, SWE-bench exports and the statistics behind them.

Modules: `load` (run folders), `summary` (per-run figures, attempts), `stats` (Wilson,
pass@k, McNemar), `exports` (SWE-bench report counts, experiments layout), `svg` (charts),
`fmt` (number formatting), `site` (rendering).
"""
