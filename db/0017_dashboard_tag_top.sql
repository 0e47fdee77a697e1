-- The day's top flags of each tag value, for the dashboard's commonest question: "the worst flags of team X today".
-- Walking the day's ranking and checking each row's series tags reads about page × flags-of-the-day / flags-of-the-tag
-- rows (~1,000 for one team of 20), too many for 16 clients on 2 cores within 50 ms. The day's top 500 flags of every
-- tag value are kept here beside the counts per tag value, built with them once per state of the day (and dropped
-- with them), so a one-tag page reads its rows by index, plus each row's flag and series by primary key.
create table anomaly_tag_top (
    as_of      date        not null references anomaly_tag_count_day (as_of) on delete cascade,
    tag_key    text        not null,
    tag_value  text        not null,
    score      real        not null,
    series_id  integer     not null,
    ts         timestamptz not null
);
create index anomaly_tag_top_rank on anomaly_tag_top (as_of, tag_key, tag_value, score desc, series_id desc, ts desc);

-- The counts and top lists hold each flag under its series' tags at counting time: a change of tags must make them
-- stale like a new run does. A statement that changes some series' tags takes the next value of this sequence, which
-- joins the day's run stamp. A sequence, not a counter row: nextval never waits for another transaction, so ingests
-- that register series concurrently do not queue behind each other (and a rolled-back change only costs a recount).
create sequence series_tags_version;

create function anomalymeta_bump_series_tags_version() returns trigger language plpgsql as $$
begin
    if exists (select from changed_after a join changed_before b using (series_id) where a.tags is distinct from b.tags) then
        perform nextval('series_tags_version');
    end if;
    return null;
end $$;

create trigger series_tags_changed after update on series
    referencing old table as changed_before new table as changed_after
    for each statement execute function anomalymeta_bump_series_tags_version();

grant select on anomaly_tag_top to anomalymeta_reader;
