-- Saving a clustering writes every series' assignment twice: a series_assignment row and the live columns of series.
-- At 2,000,000 series that took 117 s of a 315 s clustering, for two reasons measured on 200,000 series:
--
-- 1. Every update of series wrote into all five of its indexes (6.1 s), because series_cluster indexes two of the
--    columns it changes, so no update could be HOT. Nothing reads series through that index: the training sample
--    and the dashboard filter read whole clusters, which a scan serves as well. Without it, and with half of each
--    page left free so the new row versions fit beside the old, the update is HOT: 0.8 s.
alter table series set (fillfactor = 50);
drop index if exists series_cluster;

-- 2. series_assignment's two foreign keys ran two lookups per inserted row, one of them locking the series row
--    (4.2 s; 0.7 s without them). The writer checks in its transaction that every series and cluster exists and
--    names those that do not (SeriesRepository.AssignInAsync); the cascades the keys gave are kept by triggers.
alter table series_assignment drop constraint if exists series_assignment_series_id_fkey;
alter table series_assignment drop constraint if exists series_assignment_cluster_version_cluster_id_fkey;

create function anomalymeta_drop_assignments_of_series() returns trigger language plpgsql as $$
begin
    delete from series_assignment a using gone g where a.series_id = g.series_id;
    return null;
end $$;

create trigger series_assignments_follow after delete on series
    referencing old table as gone
    for each statement execute function anomalymeta_drop_assignments_of_series();

create function anomalymeta_drop_assignments_of_cluster() returns trigger language plpgsql as $$
begin
    delete from series_assignment a using gone g
    where a.cluster_version = g.cluster_version and a.cluster_id = g.cluster_id;
    return null;
end $$;

create trigger cluster_assignments_follow after delete on cluster
    referencing old table as gone
    for each statement execute function anomalymeta_drop_assignments_of_cluster();
