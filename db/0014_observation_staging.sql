-- The staging-table contract: an ETL tool bulk-loads readings here (COPY, one transaction per load); the service
-- (`anomalymeta ingest-staging`, and the morning job before it scores) merges them through the ingest's own checks,
-- step inference and merge, and deletes exactly the rows it merged in the same transaction, so a row is merged once.
-- A row it refuses (an empty or padded key, a timestamp out of range, a NaN or huge value) fails the whole merge
-- with the row named, and every row stays staged until it is fixed or deleted.
create table observation_staging (
    series_key  text        not null,
    ts          timestamptz not null,
    value       real        null,     -- null: a missing point (it never erases a stored value)
    loaded_at   timestamptz not null default now(),
    batch       text        null      -- the loader's name for a load, shown when one of its rows is refused
);
