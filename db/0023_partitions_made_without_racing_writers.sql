-- A month's partition made while rows of that month were being written failed one side or the other:
--   * a writer whose statement started before the attach still routed the month's rows to the default partition, and
--     PostgreSQL refused them ("new row for relation observation_day_default violates partition constraint"): an
--     ingest over HTTP failed with a 500 when the service's start-up maintenance made February while February arrived;
--   * a writer that had put the month's rows in the default partition before the attach and committed after it made
--     the attach fail ("updated partition constraint for default partition would be violated").
-- Now, when a month is missing, the maintenance locks the table against writers first (SHARE ROW EXCLUSIVE: it waits
-- for the writers in flight and holds new ones back until it commits; two passes of it exclude each other), then
-- looks again and makes what is still missing. Each table is its own call, so its own transaction (Partitions): a pass
-- never holds one table while it waits for another, and a scoring batch writing anomaly and run_series cannot
-- deadlock with it. The lock is taken only on the rare day a month is made, never when all months exist.

drop function anomalymeta_month_partitions(date, date);

-- The date column a partitioned table of AnomalyMeta is partitioned by; an error for any other table.
create function anomalymeta_partition_key(table_name text) returns text
language plpgsql immutable as $$
begin
    case table_name
        when 'observation_day' then return 'day';
        when 'anomaly', 'run_series' then return 'as_of';
        else raise exception '% is not a partitioned table of AnomalyMeta', table_name;
    end case;
end $$;

create function anomalymeta_month_partitions_of(table_name text, from_month date, to_month date) returns integer
language plpgsql as $$
declare
    key constant text := anomalymeta_partition_key(table_name);
    months date[];
    month date;
    part text;
    created integer := 0;
begin
    select array_agg(m::date) into months
    from generate_series(date_trunc('month', from_month), to_month, interval '1 month') m
    where to_regclass(format('%s_%s', table_name, to_char(m, 'YYYYMM'))) is null;
    if months is null then
        return 0;
    end if;
    execute format('lock table %I in share row exclusive mode', table_name);
    foreach month in array months loop
        part := format('%s_%s', table_name, to_char(month, 'YYYYMM'));
        -- Made by another pass while this one waited for the lock.
        continue when to_regclass(part) is not null;
        execute format('create table %I (like %I including defaults including constraints)', part, table_name);
        execute format('with moved as (delete from %I where %I >= %L and %I < %L returning *) insert into %I select * from moved',
            table_name || '_default', key, month, key, (month + interval '1 month')::date, part);
        execute format('alter table %I attach partition %I for values from (%L) to (%L)',
            table_name, part, month, (month + interval '1 month')::date);
        created := created + 1;
    end loop;
    return created;
end $$;
