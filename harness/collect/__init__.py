"""Real trace collection: each configuration of a space measured for real, in a fresh worker process.

    python -m harness.collect backend=cpu model=resnet-18 space=cpu_local out=traces/measured-cpu

`backends` (what a machine can realise and what it costs), `actuators` (knobs realised: affinity, thread
counts, GPU memory fraction, NVML power), `loadgen` (closed-loop load with input-kind preprocessing),
`profiler` (per-operator time and memory), `worker` (one configuration in one process), `journal` (durable,
resumable record and the lock), `collector` (the loop and the journal -> trace step). See docs/collect.md.
"""
