"""Everything that is not a search method: spaces, traces, the replay oracle, the search loop, sweeps, reports."""
