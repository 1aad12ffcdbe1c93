"""Method-hyperparameter tuning (HPO): one protocol and budget for every search method, scored on a trace set's
source models only (`protocol`), and the tuned values that runs apply (`tuned_values`).

    python -m harness.hpo traces=sim_v1 methods=[falcon,morphling,vesta] budget=8

Not to be confused with live tuning (`harness.tune`: recommending a serving configuration for a model on this
machine) or with the knowledge protocol (`harness.knowledge`: what a transfer method's fit may see).
"""
