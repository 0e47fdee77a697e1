-- A rescore accepted over HTTP is in the ledger from the moment it is accepted ('queued'), so nothing accepted can
-- vanish: the row ends 'succeeded' or 'failed' with its reason.
alter table run drop constraint run_status_check;
alter table run add constraint run_status_check check (status in ('queued', 'running', 'succeeded', 'failed'));

-- What a run scored with: the clustering it read assignments from and the meta-learners it used (cluster and
-- generic models), so a day's flags can be traced to the models that produced them.
alter table run add column clustering_version integer null;
alter table run add column model_ids integer[] null;

-- Keys of the HTTP API's mutating endpoints. Only a SHA-256 of each key is stored; the key itself is shown once,
-- when it is created. The name is what the run ledger records as 'triggered_by'.
create table api_key (
    key_id      integer     generated always as identity primary key,
    name        text        not null unique check (name ~ '^[A-Za-z0-9._@-]{1,64}$'),
    key_hash    bytea       not null unique check (length(key_hash) = 32),
    created_at  timestamptz not null default now(),
    revoked_at  timestamptz null
);

-- A least-privilege role for dashboards (Grafana and the like): it reads the series, the run ledger and the flags,
-- never the keys, the checkpoints or the scheduler's tables. Give it a login with
--   create role grafana login password '...' in role anomalymeta_reader;
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'anomalymeta_reader') then
        create role anomalymeta_reader nologin;
    end if;
end
$$;
grant usage on schema public to anomalymeta_reader;
grant select on series, observation_day, clustering, cluster, series_assignment, run, run_series, anomaly to anomalymeta_reader;
grant select (model_id, cluster_version, cluster_id, model_version, algorithm, configuration, metrics, created_at) on model to anomalymeta_reader;
