-- A series' status across runs ("why was this series skipped last week?") and the cascade when a series is
-- deleted both look up run_series by series. Its primary key leads with run_id, so without this index each of
-- them scans every run's rows: 2 million a night.
create index run_series_by_series on run_series (series_id, run_id desc);
