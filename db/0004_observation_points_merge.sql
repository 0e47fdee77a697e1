-- Merging a day's points instead of replacing the row: an ingest changes exactly the points it carries. A file with
-- the morning of a day, then one with its afternoon, or a correction of one point, must not wipe the others.
-- NaN in the new points means "not in this write" (a blank in a file is unknown, not a deletion), so the stored
-- point stays; every other new point wins. PostgreSQL compares NaN equal to NaN, so "n = 'NaN'" is the test.
-- A stored NULL element (only a hand-written UPDATE makes one) is kept when the new point is NaN; reads take it as NaN.
-- Written as a standard SQL body (PostgreSQL 14+): no dollar quoting, and the planner can inline it.
create or replace function observation_points_merge(stored real[], incoming real[])
returns real[]
language sql
immutable
parallel safe
return (
    select array_agg(case when n is null or n = 'NaN'::real then o else n end order by i)
    from unnest(stored, incoming) with ordinality as u(o, n, i)
);
