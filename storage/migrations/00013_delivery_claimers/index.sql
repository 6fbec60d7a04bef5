-- v13: a claimed delivery names the Olchat instance that claimed it, so rows held by a dead instance go
-- back to the queue as soon as the instance is known dead (its heartbeat in `instances` stopped), not only
-- when their claim lock expires (minutes: the lock must outlast the slowest portal call).

alter table deliveries add column claimed_by text;
alter table deliveries add column claimed_at timestamptz;

-- Only a claimed row names a claimer; claims made without one (tools, tests) rely on the lock alone.
alter table deliveries add constraint deliveries_claimer
  check (claimed_by is null or (status = 'in_flight' and claimed_at is not null));

create index deliveries_claimed_by on deliveries (claimed_by) where claimed_by is not null;

comment on column deliveries.claimed_by is 'instances.id of the claimer while in flight (technical)';
