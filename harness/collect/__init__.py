"""Real trace collection: each configuration of a space measured for real, in a fresh worker process.

    python -m harness.collect backend=cpu model=resnet-18 space=cpu_local out=traces/measured-cpu

`backends` (what a machine can realise and what it costs), `actuators` (knobs realised: affinity, thread
counts, GPU memory fraction, NVML power), `loadgen` (closed-loop load with input-kind preprocessing),
`profiler` (per-operator time and memory), `worker` (one configuration in one process), `journal` (durable,
resumable record and the locks), `collector` (one writer per model and shard, and the journal -> trace step),
`merge` (machine shards joined into one set, with provenance), `plan` (jobs, hours and cost before collecting),
`canonicalise` (old measured sets into the Relay operator vocabulary). See docs/collect.md. `llm`: a backend
that estimates LLM serving configurations with NVIDIA's AIConfigurator instead of measuring (docs/llm.md).
"""
