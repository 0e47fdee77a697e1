-- A clustering goes live (scores) once training has been through every one of its clusters: each has its own
-- meta-learner, or was found too young to train and falls back to the generic model of its step. Until then the
-- previous live clustering keeps scoring with its own assignments and models, so a re-clustering never scores a day
-- half with new models and half with fallbacks.
alter table clustering add column live_at timestamptz null;

-- Clusterings trained before this migration: live from their last model.
update clustering c
set live_at = m.trained_at
from (select cluster_version, max(created_at) as trained_at from model group by cluster_version) m
where m.cluster_version = c.cluster_version;

create index clustering_live on clustering (cluster_version desc) where live_at is not null;
