-- A run split into shards (series_id ranges), each a Quartz job any service instance of the cluster may take. The
-- ledger keeps, per shard, its range, its state and every instance that took it (the last one finished it), so a
-- shard recovered from a dead instance shows both.
create table run_shard (
    run_id           bigint      not null references run (run_id) on delete cascade,
    shard            integer     not null check (shard >= 0),
    first_series_id  integer     not null,
    last_series_id   integer     not null check (last_series_id >= first_series_id),
    status           text        not null default 'pending' check (status in ('pending', 'running', 'done', 'failed')),
    instances        text[]      not null default '{}',
    series_done      integer     not null default 0,
    started_at       timestamptz null,
    finished_at      timestamptz null,
    error            text        null,
    primary key (run_id, shard)
);

grant select on run_shard to anomalymeta_reader;
