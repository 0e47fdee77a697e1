-- series_assignment held every clustering's rows in one table and none was ever removed: a fleet of 2,000,000 series
-- re-clustered weekly adds 100 million rows a year. Each save's join of the new rows with series, and the version's
-- checks, read that table whole (a sequential scan: at 2 M series and 9 clusterings, 18 million rows to find the
-- 2 million of one version). Each clustering's assignments now sit in a partition of their own, which the save
-- writes and reads alone, and which retention drops whole once nothing reads it (anomalymeta_drop_assignments_before).
alter table series_assignment rename to series_assignment_unpartitioned;
alter table series_assignment_unpartitioned rename constraint series_assignment_pkey to series_assignment_unpartitioned_pkey;

create table series_assignment (
    like series_assignment_unpartitioned including defaults,
    primary key (series_id, cluster_version)
) partition by list (cluster_version);

-- The partition of one clustering, made when its first assignment is written (SeriesRepository.AssignInAsync); false
-- when it exists. It is made as a table of its own with the version's check, then attached: an attach takes only a
-- SHARE UPDATE EXCLUSIVE lock on series_assignment, so the morning read and the dashboards keep reading it while a
-- clustering is saved (CREATE TABLE ... PARTITION OF would lock them out until the save commits), and the check
-- spares the attach a scan. Two writers of the same new version wait for each other on that lock.
create function anomalymeta_assignment_partition(version integer) returns boolean
language plpgsql as $$
declare
    part constant text := format('series_assignment_%s', version);
begin
    if version < 0 then
        raise exception 'anomalymeta_assignment_partition: clustering version % is negative', version;
    end if;
    if to_regclass(part) is not null then
        return false;
    end if;
    lock table series_assignment in share update exclusive mode;
    if to_regclass(part) is not null then
        return false;
    end if;
    execute format('create table %I (like series_assignment including defaults including constraints)', part);
    execute format('alter table %I add constraint %I check (cluster_version = %s)', part, part || '_version', version);
    execute format('alter table series_assignment attach partition %I for values in (%s)', part, version);
    return true;
end $$;

-- Drops the assignments of every clustering older than the live one that no run of a day on or after cutoff scored
-- with: the day pages of those runs name each series' cluster and season from them (the Partitions job passes today
-- minus the run outcomes' retention, so they go when those outcomes go). The live clustering and newer ones, still
-- waiting for their models, always stay; live only moves forward, so an older one never scores again.
create function anomalymeta_drop_assignments_before(cutoff date) returns integer
language plpgsql as $$
declare
    live constant integer := (select max(cluster_version) from clustering where live_at is not null);
    part record;
    dropped integer := 0;
begin
    if live is null then
        return 0;
    end if;
    for part in
        select c.relname, substring(c.relname from '^series_assignment_([0-9]+)$')::integer as version
        from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'series_assignment'::regclass and c.relname ~ '^series_assignment_[0-9]+$'
    loop
        continue when part.version >= live
            or exists (select from run r where r.clustering_version = part.version and r.as_of >= cutoff);
        execute format('drop table %I', part.relname);
        dropped := dropped + 1;
    end loop;
    return dropped;
end $$;

select anomalymeta_assignment_partition(v.cluster_version)
from (select distinct cluster_version from series_assignment_unpartitioned) v;

insert into series_assignment (series_id, cluster_version, cluster_id, primary_period, secondary_period, period_status, features, assigned_at)
select series_id, cluster_version, cluster_id, primary_period, secondary_period, period_status, features, assigned_at
from series_assignment_unpartitioned;

drop table series_assignment_unpartitioned;

grant select on series_assignment to anomalymeta_reader;
