-- The morning run writes a run_series row per series and an anomaly row per flag. Their foreign keys to run and
-- series checked every row with a lookup that also locked the series row (FOR KEY SHARE), so each run dirtied every
-- page of series too. perf of a 200,000-series rescore put the checks at 6 % of the machine (AfterTriggerEndQuery),
-- and dropping them took PostgreSQL's CPU from 31.3-33.4 s to 27.5-28.3 s. The only writer,
-- RunLedger.CommitBatchAsync, checks in its transaction that the run exists and is running and writes only series it
-- read from series; the cascades the keys gave are kept by statement triggers, as db/0019 did for series_assignment.
do $$
declare
    k record;
begin
    for k in
        select c.conrelid::regclass as owner, c.conname
        from pg_constraint c
        where c.contype = 'f' and c.conparentid = 0
          and c.conrelid in ('run_series'::regclass, 'anomaly'::regclass)
          and c.confrelid in ('run'::regclass, 'series'::regclass)
    loop
        execute format('alter table %s drop constraint %I', k.owner, k.conname);
    end loop;
end $$;

-- One trigger removes everything of a deleted series that no key cascades any more (it replaces 0019's).
drop trigger series_assignments_follow on series;
drop function anomalymeta_drop_assignments_of_series();

create function anomalymeta_drop_rows_of_series() returns trigger language plpgsql as $$
begin
    delete from series_assignment a using gone g where a.series_id = g.series_id;
    delete from run_series r using gone g where r.series_id = g.series_id;
    delete from anomaly a using gone g where a.series_id = g.series_id;
    return null;
end $$;

create trigger series_rows_follow after delete on series
    referencing old table as gone
    for each statement execute function anomalymeta_drop_rows_of_series();

create function anomalymeta_drop_outcomes_of_run() returns trigger language plpgsql as $$
begin
    delete from run_series r using gone g where r.run_id = g.run_id;
    delete from anomaly a using gone g where a.run_id = g.run_id;
    return null;
end $$;

create trigger run_outcomes_follow after delete on run
    referencing old table as gone
    for each statement execute function anomalymeta_drop_outcomes_of_run();
