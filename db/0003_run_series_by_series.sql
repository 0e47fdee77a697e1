-- A series' status across runs ("why was this series skipped last week?") and the cascade when a series is
-- deleted both look up run_series by series. Its primary key leads with run_id, so without this index each of
-- them scans every run's rows: 2 million a night.
-- DbUp runs this inside a transaction, where the build blocks writes to run_series. On a database that already
-- holds months of runs, build it first by hand with CREATE INDEX CONCURRENTLY (same name); this is then a no-op.
create index if not exists run_series_by_series on run_series (series_id, run_id desc);
