-- The tables that grow every day are partitioned by month, so months of history cost the morning run nothing and
-- retention drops whole partitions instead of deleting rows: observation_day by day, anomaly and run_series by the
-- scored date (run_series gains as_of, its run's date). Each has a default partition for rows outside the months
-- created so far (a backfill of years ago, a far future date): nothing is ever refused for want of a partition, and
-- anomalymeta_month_partitions moves such rows into their month when it creates it. The service creates the coming
-- months every day and drops the ones past retention (Retention:* settings).

alter table observation_day rename to observation_day_unpartitioned;
alter table observation_day_unpartitioned rename constraint observation_day_pkey to observation_day_unpartitioned_pkey;
create table observation_day (
    series_id  integer not null,
    day        date    not null,
    points     real[]  not null check (cardinality(points) > 0),
    primary key (series_id, day)
) partition by range (day);
create table observation_day_default partition of observation_day default;

alter table anomaly rename to anomaly_unpartitioned;
alter table anomaly_unpartitioned rename constraint anomaly_pkey to anomaly_unpartitioned_pkey;
alter index anomaly_ts rename to anomaly_unpartitioned_ts;
alter index anomaly_as_of_score rename to anomaly_unpartitioned_as_of_score;
alter index anomaly_series_ts rename to anomaly_unpartitioned_series_ts;
alter index anomaly_run rename to anomaly_unpartitioned_run;
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
) partition by range (as_of);
create table anomaly_default partition of anomaly default;
create index anomaly_ts on anomaly (ts desc);
create index anomaly_as_of_score on anomaly (as_of, score desc);
create index anomaly_series_ts on anomaly (series_id, ts desc);
create index anomaly_run on anomaly (run_id);

alter table run_series rename to run_series_unpartitioned;
alter table run_series_unpartitioned rename constraint run_series_pkey to run_series_unpartitioned_pkey;
alter index run_series_by_series rename to run_series_unpartitioned_by_series;
create table run_series (
    run_id          bigint  not null references run (run_id) on delete cascade,
    series_id       integer not null references series (series_id) on delete cascade,
    as_of           date    not null,
    status          text    not null check (status in ('scored', 'too_short', 'non_finite', 'constant', 'no_model', 'no_data', 'diverged')),
    detail          text    null,
    points_scored   integer not null default 0,
    anomaly_count   integer not null default 0,
    forecast        real[]  null,
    scores          real[]  null,
    residual_scale  real    null,
    residual_peak   real    null,
    -- A run has one date: (run_id, series_id) stays unique; as_of is in the key because a partitioned table's keys
    -- must hold its partition column.
    primary key (run_id, series_id, as_of)
) partition by range (as_of);
create table run_series_default partition of run_series default;
create index run_series_by_series on run_series (series_id, run_id desc);

-- Creates the monthly partitions of every month from from_month to to_month that has none yet, moving any of its rows
-- out of the default partition first (attaching a partition whose rows sit in the default one is refused). Returns
-- how many it created.
create function anomalymeta_month_partitions(from_month date, to_month date) returns integer
language plpgsql as $$
declare
    tables constant text[] := array['observation_day', 'anomaly', 'run_series'];
    keys constant text[] := array['day', 'as_of', 'as_of'];
    month date;
    part text;
    created integer := 0;
begin
    for i in 1 .. array_length(tables, 1) loop
        month := date_trunc('month', from_month)::date;
        while month <= to_month loop
            part := format('%s_%s', tables[i], to_char(month, 'YYYYMM'));
            if to_regclass(part) is null then
                execute format('create table %I (like %I including defaults including constraints)', part, tables[i]);
                execute format('with moved as (delete from %I where %I >= %L and %I < %L returning *) insert into %I select * from moved',
                    tables[i] || '_default', keys[i], month, keys[i], (month + interval '1 month')::date, part);
                execute format('alter table %I attach partition %I for values from (%L) to (%L)',
                    tables[i], part, month, (month + interval '1 month')::date);
                created := created + 1;
            end if;
            month := (month + interval '1 month')::date;
        end loop;
    end loop;
    return created;
end $$;

-- Drops the monthly partitions of table_name whose whole month is before cutoff and deletes the default partition's
-- rows before it. Returns how many partitions it dropped.
create function anomalymeta_drop_months_before(table_name text, cutoff date) returns integer
language plpgsql as $$
declare
    key text := case table_name when 'observation_day' then 'day' when 'anomaly' then 'as_of' when 'run_series' then 'as_of' end;
    part record;
    dropped integer := 0;
begin
    if key is null then
        raise exception 'anomalymeta_drop_months_before: % is not a partitioned table of AnomalyMeta', table_name;
    end if;
    for part in
        select c.relname
        from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = table_name::regclass and c.relname ~ ('^' || table_name || '_[0-9]{6}$')
    loop
        if (to_date(right(part.relname, 6), 'YYYYMM') + interval '1 month')::date <= cutoff then
            execute format('drop table %I', part.relname);
            dropped := dropped + 1;
        end if;
    end loop;
    execute format('delete from %I where %I < %L', table_name || '_default', key, cutoff);
    return dropped;
end $$;

-- The months the existing rows fall in, and the coming three, get their partitions before the rows move in.
select anomalymeta_month_partitions(
    least(coalesce((select min(day) from observation_day_unpartitioned), current_date),
          coalesce((select min(as_of) from anomaly_unpartitioned), current_date),
          coalesce((select min(r.as_of) from run_series_unpartitioned rs join run r using (run_id)), current_date),
          (current_date - interval '1 month')::date),
    (current_date + interval '3 months')::date);

insert into observation_day select series_id, day, points from observation_day_unpartitioned;
insert into anomaly select as_of, series_id, ts, run_id, value, forecast, lower_band, upper_band, score from anomaly_unpartitioned;
insert into run_series (run_id, series_id, as_of, status, detail, points_scored, anomaly_count, forecast, scores, residual_scale, residual_peak)
select rs.run_id, rs.series_id, r.as_of, rs.status, rs.detail, rs.points_scored, rs.anomaly_count, rs.forecast, rs.scores, rs.residual_scale, rs.residual_peak
from run_series_unpartitioned rs join run r using (run_id);

drop table observation_day_unpartitioned;
drop table anomaly_unpartitioned;
drop table run_series_unpartitioned;

grant select on observation_day, anomaly, run_series to anomalymeta_reader;
