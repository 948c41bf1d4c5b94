"""Campaign broadcasting: campaigns and their audiences, planning into per-recipient delivery rows, and
sending on an arq job queue with global rate limits in Redis, exactly once per recipient (docs/broadcast.md).

The console, the admin API and the CLI call `bot.broadcast.service.BroadcastService`; `jamsosbot worker`
runs `bot.broadcast.worker`. Importing this package imports nothing else (the modules are heavy).

    model        drafts, audiences, per-recipient fields, the errors the service raises
    service      the API: create, preview, count, test-send, schedule, start, pause, resume, cancel, progress
    audience     the audience in SQL; planning in keyset chunks
    claims       claiming deliveries (SKIP LOCKED, leases), settling them (fenced)
    sending      a sender job's loop; batch: one batch; settling: recording outcomes, STOP re-checks
    ledger       the send ledger in Redis (exactly once across crashes)
    ratelimit    GCRA pacing and 429 pauses in Redis; quiet: quiet hours
    channels     Telegram and WhatsApp over the channel senders; twilio_lookup: Twilio's message list
    outcomes     what a failed send means
    jobs, queue, locks, planner, worker   the arq jobs, their queue, slot locks, the planner, the worker
    campaigns, progress, keys, config, cli_support   campaign rows, counts, Redis names, settings, CLI help
"""
