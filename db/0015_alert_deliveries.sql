-- Alert webhooks: one row per run, route and finish of the run (a succeeded nightly run reopens for series whose
-- data came late, and finishes again with their flags). What was posted, how many tries it took and how it ended:
-- the delivery step sends a route again only while no row of the run's current finish says it was delivered, so a
-- restart resends nothing delivered and sends what was not.
create table alert_delivery (
    run_id           bigint      not null references run (run_id) on delete cascade,
    route            text        not null,
    -- The run's finished_at when the route was considered: a reopened run finishes again and gets new rows.
    run_finished_at  timestamptz not null,
    -- delivered: the webhook answered 2xx; empty: no new flag matched the route, nothing was posted; failed: every
    -- attempt failed (error says why), a later delivery pass tries again.
    outcome          text        not null check (outcome in ('delivered', 'empty', 'failed')),
    attempts         integer     not null default 0 check (attempts >= 0),
    status_code      integer     null,
    flag_count       integer     not null default 0,
    -- The series whose flags the post carried: a reopened run's next post carries only its other series' flags.
    series_ids       integer[]   not null default '{}',
    delivered_at     timestamptz null,
    error            text        null,
    updated_at       timestamptz not null default now(),
    primary key (run_id, route, run_finished_at)
);

grant select on alert_delivery to anomalymeta_reader;
