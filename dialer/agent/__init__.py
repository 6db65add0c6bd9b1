"""The `dialer agent` worker: a LiveKit Agents worker that places one call per job and reports it.

A job's metadata is a `CallSpec` (dialer/livekit/spec.py). The worker dials the lead over SIP,
talks with a Gemini realtime model, and POSTs exactly one signed `CallReport` back to the runner.

Modules follow the call: `config` (credentials) → `dial` (the LiveKit boundary, SIP outcomes) →
`conversation` (the agent, its tools, the session) → `state` (what the call did, as a report) →
`report` (signed POST with retries) → `worker` (the job entrypoint and `run_worker`).
Nothing here imports livekit at module level: `dialer --help` stays fast.
"""
