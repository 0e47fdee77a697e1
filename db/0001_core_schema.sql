-- AnomalyMeta core schema. Migrations in db/ run in file-name order, each once (DbUp journal: schemaversions).

-- Series registry: one row per monitored series. The detected period and the cluster are the current
-- assignment; their history lives in series_assignment.
create table series (
    series_id          integer generated always as identity primary key,
    series_key         text        not null unique,
    tags               jsonb       not null default '{}'::jsonb,
    step_seconds       integer     not null default 3600 check (step_seconds > 0 and 86400 % step_seconds = 0),
    primary_period     integer     null check (primary_period > 1),
    secondary_period   integer     null check (secondary_period > 1),
    period_status      text        null,
    cluster_version    integer     null,
    cluster_id         integer     null,
    created_at         timestamptz not null default now()
);
create index series_cluster on series (cluster_version, cluster_id);

-- Observations: one row per series per day, the day's points as real[] (86400 / step_seconds of them,
-- NaN where a point is missing). Reading the last K points plus the scoring day for millions of series
-- is then a few rows per series on one primary-key range, not hundreds of rows: 8 rows of 24 values
-- instead of 192 rows, about 10x less heap and index to read and 25x fewer index entries.
create table observation_day (
    series_id  integer not null references series (series_id) on delete cascade,
    day        date    not null,
    points     real[]  not null check (cardinality(points) > 0),
    primary key (series_id, day)
);

-- Clusterings: one version per run of the clustering step; assignments of new series join the latest.
create table clustering (
    cluster_version  integer     primary key,
    created_at       timestamptz not null default now(),
    method           text        not null,
    parameters       jsonb       not null default '{}'::jsonb,
    series_count     integer     not null,
    moved_count      integer     null
);

create table cluster (
    cluster_version   integer not null references clustering (cluster_version) on delete cascade,
    cluster_id        integer not null,
    primary_period    integer null,
    secondary_period  integer null,
    series_count      integer not null,
    centroid          real[]  not null default '{}',
    primary key (cluster_version, cluster_id)
);

create table series_assignment (
    series_id         integer     not null references series (series_id) on delete cascade,
    cluster_version   integer     not null,
    cluster_id        integer     not null,
    primary_period    integer     null,
    secondary_period  integer     null,
    period_status     text        not null,
    features          real[]      not null,
    assigned_at       timestamptz not null default now(),
    primary key (series_id, cluster_version),
    foreign key (cluster_version, cluster_id) references cluster (cluster_version, cluster_id) on delete cascade
);

-- Meta-learners: versioned checkpoints, one lineage per cluster.
create table model (
    model_id         integer     generated always as identity primary key,
    cluster_version  integer     not null,
    cluster_id       integer     not null,
    model_version    integer     not null,
    algorithm        text        not null,
    configuration    jsonb       not null,
    metrics          jsonb       not null default '{}'::jsonb,
    checkpoint       bytea       not null,
    created_at       timestamptz not null default now(),
    unique (cluster_version, cluster_id, model_version),
    foreign key (cluster_version, cluster_id) references cluster (cluster_version, cluster_id) on delete cascade
);

-- Run ledger: one row per scoring run. A nightly run exists once per as-of date (reruns resume it);
-- rescoring runs are extra rows that say who asked and why.
create table run (
    run_id             bigint      generated always as identity primary key,
    kind               text        not null check (kind in ('nightly', 'rescore')),
    as_of              date        not null,
    status             text        not null check (status in ('running', 'succeeded', 'failed')),
    series_total       integer     not null default 0,
    series_scored      integer     not null default 0,
    series_skipped     integer     not null default 0,
    anomalies_written  integer     not null default 0,
    batches_done       integer     not null default 0,
    started_at         timestamptz not null default now(),
    finished_at        timestamptz null,
    elapsed_ms         bigint      null,
    triggered_by       text        not null,
    reason             text        null,
    error              text        null
);
create unique index run_one_nightly_per_day on run (as_of) where kind = 'nightly';
create index run_as_of on run (as_of desc);

-- What happened to each series in a run: scored, or skipped with a reason a person can act on.
create table run_series (
    run_id     bigint  not null references run (run_id) on delete cascade,
    series_id  integer not null references series (series_id) on delete cascade,
    status     text    not null check (status in ('scored', 'too_short', 'non_finite', 'constant', 'no_model', 'no_data')),
    detail     text    null,
    points_scored   integer not null default 0,
    anomaly_count   integer not null default 0,
    primary key (run_id, series_id)
);

-- Anomalies: one row per flagged point. Keyed by (as_of, series, ts) so a rerun or a rescore of the same
-- day replaces the series' flags instead of adding to them; run_id says which run wrote them.
create table anomaly (
    as_of       date        not null,
    series_id   integer     not null references series (series_id) on delete cascade,
    ts          timestamptz not null,
    run_id      bigint      not null references run (run_id) on delete cascade,
    value       real        not null,
    forecast    real        not null,
    lower_band  real        not null,
    upper_band  real        not null,
    score       real        not null check (score >= 0 and score <= 1),
    primary key (as_of, series_id, ts)
);
-- Dashboards: "what fired recently", "worst anomalies of a day", "this series' history".
create index anomaly_ts on anomaly (ts desc);
create index anomaly_as_of_score on anomaly (as_of, score desc);
create index anomaly_series_ts on anomaly (series_id, ts desc);
create index anomaly_run on anomaly (run_id);
