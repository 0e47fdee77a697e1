-- Operators' surfaces: series tags as filters, scoped rescores, feedback on flags, mutes.

-- Tag filters are containment tests (tags @> '{"region": "eu"}'): a scoped rescore by tag, and any dashboard filter
-- written the same way. jsonb_path_ops is smaller and faster than the default opclass for @>, the only operator used.
create index series_tags on series using gin (tags jsonb_path_ops);

-- What a rescore was asked to rescore: null for the whole fleet, else {"series": [keys], "tags": {k: v}, "cluster": C}
-- (each part optional, all given parts must hold). Kept as asked, so a resumed run rescores the same scope.
alter table run add column scope jsonb null check (scope is null or jsonb_typeof(scope) = 'object');

-- A person's verdict on a flag, keyed like the flag (as_of, series, ts). No foreign key to anomaly: a rescore deletes
-- and rewrites its flags, and the verdict on what was flagged must outlive that. The latest verdict on a flag wins.
create table anomaly_feedback (
    as_of      date        not null,
    series_id  integer     not null references series (series_id) on delete cascade,
    ts         timestamptz not null,
    verdict    text        not null check (verdict in ('false_positive', 'confirmed')),
    note       text        null check (length(note) <= 1000),
    given_by   text        not null,
    given_at   timestamptz not null default now(),
    primary key (as_of, series_id, ts)
);

-- A series muted whole (from_ts and to_ts null) or over [from_ts, to_ts) (either end may be open). Flags are still
-- written; they are marked muted, so alerting can skip them and evaluations still see them.
create table mute (
    mute_id     bigint      generated always as identity primary key,
    series_id   integer     not null references series (series_id) on delete cascade,
    from_ts     timestamptz null,
    to_ts       timestamptz null check (from_ts is null or to_ts is null or from_ts < to_ts),
    reason      text        not null check (length(reason) between 1 and 500),
    muted_by    text        not null,
    created_at  timestamptz not null default now()
);
create index mute_series on mute (series_id);

alter table anomaly add column muted boolean not null default false;

-- Marked as written, whoever writes the flag (a run's batch commit, a rescore): a trigger instead of every writer
-- knowing about mutes. Flags are a small share of points, and a series' mutes are found by mute_series.
create function anomaly_mark_muted() returns trigger language plpgsql as $$
begin
    new.muted := exists (
        select 1 from mute m
        where m.series_id = new.series_id
          and (m.from_ts is null or new.ts >= m.from_ts)
          and (m.to_ts is null or new.ts < m.to_ts));
    return new;
end
$$;
create trigger anomaly_mark_muted before insert on anomaly for each row execute function anomaly_mark_muted();

-- What alerting reads: the flags nobody muted, with the series' key and tags. Named for the alert webhooks.
create view alertable_anomaly as
select a.as_of, a.series_id, s.series_key, s.tags, a.ts, a.run_id, a.value, a.forecast, a.lower_band, a.upper_band, a.score
from anomaly a
join series s using (series_id)
where not a.muted;

grant select on anomaly_feedback, mute, alertable_anomaly to anomalymeta_reader;
