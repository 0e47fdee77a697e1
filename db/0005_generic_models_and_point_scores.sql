-- Generic meta-learners, one lineage per sampling step, meta-trained on generated series: the model a series falls
-- back to while its cluster has none (a new series, a cluster too young to train), so every series is scored from
-- its second day of data.
create table generic_model (
    model_id         integer     generated always as identity primary key,
    step_seconds     integer     not null check (step_seconds > 0 and 86400 % step_seconds = 0),
    model_version    integer     not null,
    algorithm        text        not null,
    configuration    jsonb       not null,
    metrics          jsonb       not null default '{}'::jsonb,
    checkpoint       bytea       not null,
    created_at       timestamptz not null default now(),
    unique (step_seconds, model_version)
);

-- Every scored point's forecast and score, not only the flagged ones: the series page draws the band around the
-- whole day, and evaluations (NAB) need a score for every row. NaN where the point was missing. model_detail says
-- which meta-learner scored the series (its cluster's, or a fallback and why).
alter table run_series add column forecast real[] null;
alter table run_series add column scores   real[] null;
-- The detector's state at the end of the scored day (residual scale and recent peak, in the series' units): the next
-- morning starts from it, so a series is judged against its own last days, not only against its support window.
alter table run_series add column residual_scale real null;
alter table run_series add column residual_peak  real null;

-- A series whose adaptation or forecast is not finite gets its own status; the run goes on.
alter table run_series drop constraint run_series_status_check;
alter table run_series add constraint run_series_status_check
    check (status in ('scored', 'too_short', 'non_finite', 'constant', 'no_model', 'no_data', 'diverged'));

-- The clock a series' daily and weekly cycles follow (IANA id): phases are taken in local time, so a daylight-saving
-- change does not shift the pattern the model expects by an hour.
alter table series add column time_zone text not null default 'UTC';
