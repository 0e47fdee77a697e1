-- 0017's statement trigger compared the old and new rows of every update of series through its transition tables.
-- PostgreSQL has no statistics on transition tables and joined them with a nested loop: the clustering's update of
-- 200,000 series' assignments (tags untouched) ran for over 11 minutes, and 2,000,000 would never end. The trigger now
-- fires only for updates that name the tags column, and only for the rows whose tags change (its WHEN condition is
-- checked without calling the function); each such row takes a value of the sequence, which costs microseconds.
drop trigger series_tags_changed on series;
drop function anomalymeta_bump_series_tags_version();

create function anomalymeta_bump_series_tags_version() returns trigger language plpgsql as $$
begin
    perform nextval('series_tags_version');
    return null;
end $$;

create trigger series_tags_changed after update of tags on series
    for each row when (old.tags is distinct from new.tags)
    execute function anomalymeta_bump_series_tags_version();

-- A fresh sequence's first nextval returns its start value without moving last_value, which the summaries' stamp
-- reads: the first change of tags ever went unseen. Mark the start as taken, so every nextval moves it.
select setval('series_tags_version', (select last_value from series_tags_version), true);
