-- The operators' surfaces (the dashboard at /, GET /api/anomalies..., Grafana) read a day's flags ranked by score,
-- filtered by the series' cluster, tags and key, and counted per tag value. These are the indexes, the view and the
-- summaries made for those reads. DbUp runs this inside a transaction, where each build blocks writes to its table:
-- on a database that already holds months of flags, build the indexes first by hand (on each monthly partition of
-- anomaly with CREATE INDEX CONCURRENTLY, then the parent index ON ONLY anomaly and ATTACH PARTITION; same names):
-- these statements are then no-ops.

-- Keyset paging of a day's anomalies by score: (score, series_id, ts) all descending is a total order, so the next
-- page starts strictly after the last row with one row comparison the index can seek to. It serves everything the
-- older (as_of, score desc) index served, which the scorer would otherwise keep up to date for nothing.
create index if not exists anomaly_day_rank on anomaly (as_of, score desc, series_id desc, ts desc);
drop index if exists anomaly_as_of_score;

-- Filters on the series side. A common tag or cluster is cheapest found by walking the day's ranking and checking
-- each row's series; a rare one (a tag value held by a few hundred series, a series-key search) is cheapest from the
-- series it names, then its flags by primary key. These indexes give the planner that second path.
-- series_tags (gin, jsonb_path_ops) on series.tags comes with 0012_tags_feedback_mutes.
create extension if not exists pg_trgm;
create index if not exists series_key_trgm on series using gin (series_key gin_trgm_ops);

-- One flag per row with what a dashboard shows next to it: the series' key, tags and current cluster. Grafana and
-- scripts read this instead of repeating the join.
create or replace view anomaly_view as
select a.as_of, a.ts, s.series_key, a.score, a.value, a.forecast, a.lower_band, a.upper_band, a.run_id,
       s.series_id, s.cluster_version, s.cluster_id, s.tags
from anomaly a join series s using (series_id);

-- Counts per tag value of a day. At two million series a day holds millions of flags, and counting them per tag
-- value each time a page loads takes seconds; the flags of a day change only when a run of that day writes, so the
-- counts are computed once per state of the day's runs (run_stamp: the runs' ids, batches and flags written, which
-- move with every committed batch and every rescore) and read back until that state changes.
create table anomaly_tag_count_day (
    as_of        date        primary key,
    run_stamp    text        not null,
    anomalies    integer     not null,
    series       integer     not null,
    computed_at  timestamptz not null default now()
);

create table anomaly_tag_count (
    as_of      date    not null references anomaly_tag_count_day (as_of) on delete cascade,
    tag_key    text    not null,
    tag_value  text    not null,
    anomalies  integer not null,
    series     integer not null,
    max_score  real    not null,
    primary key (as_of, tag_key, tag_value)
);

-- Series per status of a finished run (run_series grouped by status): two million rows a run, read once when the run
-- has ended and kept with the finish time it was counted at (a nightly run that reopens for late series ends again
-- with another finish time, and is counted again).
create table run_status_count (
    run_id       bigint      not null references run (run_id) on delete cascade,
    finished_at  timestamptz not null,
    status       text        not null,
    series       integer     not null,
    primary key (run_id, status)
);

grant select on anomaly_view, anomaly_tag_count_day, anomaly_tag_count, run_status_count to anomalymeta_reader;
