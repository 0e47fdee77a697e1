-- observation_day is the largest table (a row per series and day: 60 million a month at 2 million series). Its
-- foreign key to series checked every inserted row with a lookup of its own: measured on this machine, inserting a
-- million day rows took 10.1 s with it and 3.3 s without. The service never deletes series, every write path
-- resolves the series ids it writes from the series table in the same transaction (the staged writes check them
-- before the merge, the bulk COPY of new days checks its distinct ids), so the key is dropped.
alter table observation_day drop constraint observation_day_series_id_fkey;
