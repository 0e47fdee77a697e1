-- An operator can pin a cluster's model (a rollback pins the version before the one scoring): scoring then uses the
-- pinned model instead of the cluster's newest, until the pin is removed or the clustering is replaced.
create table model_pin (
    cluster_version  integer     not null,
    cluster_id       integer     not null,
    model_id         integer     not null references model (model_id) on delete cascade,
    pinned_by        text        not null,
    pinned_at        timestamptz not null default now(),
    reason           text        not null,
    primary key (cluster_version, cluster_id),
    foreign key (cluster_version, cluster_id) references cluster (cluster_version, cluster_id) on delete cascade
);

-- The service's maintenance jobs (assigning new series, re-clustering and retraining, drift checks), one row per
-- execution, like the scoring runs in run: when, what it did (detail), or why it failed.
create table job_run (
    job_run_id    bigint      generated always as identity primary key,
    kind          text        not null check (kind in ('assign', 'retrain', 'drift')),
    status        text        not null check (status in ('running', 'succeeded', 'failed')),
    triggered_by  text        not null,
    started_at    timestamptz not null default now(),
    finished_at   timestamptz null,
    detail        jsonb       not null default '{}'::jsonb,
    error         text        null
);
create index job_run_recent on job_run (kind, started_at desc);

grant select on model_pin, job_run to anomalymeta_reader;
