-- v6: inbox of received Bitrix24 events, persisted before the 200 answer and processed asynchronously

-- Bitrix24 never retries an event (reference/bitrix24.md §6.2), so a verified event is stored here first and
-- acknowledged, then a worker claims it (FOR UPDATE SKIP LOCKED, lease in locked_until) and acts on it. The
-- body (operator message texts) is sealed and dropped once the row is done or failed (R8): the CHECKs below
-- make a kept body impossible. Finished rows stay a while so a repeated event (same dedup_key) is still
-- recognised.
create table inbound_events (
  id bigint generated always as identity primary key,
  portal_id uuid not null references portals (id) on delete cascade,
  event text not null,
  -- Keyed hash of (portal, event, ts, data): a repeated delivery of the same event is ignored.
  dedup_key text not null unique,
  -- Events with the same key (one Open Lines chat) are processed in arrival order; null means no order.
  order_key text,
  payload_enc bytea,
  status text not null default 'pending' check (status in ('pending', 'done', 'failed')),
  attempts integer not null default 0 check (attempts >= 0),
  available_at timestamptz not null default now(),
  -- Set while a worker holds the row; a crashed worker's lease lapses and the row is claimable again.
  locked_until timestamptz,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  -- The last failure, or why a done event did nothing (e.g. no account bound to the line).
  last_error text,
  constraint inbound_events_body check ((status = 'pending') = (payload_enc is not null)),
  constraint inbound_events_processed check ((status = 'pending') = (processed_at is null)),
  constraint inbound_events_lock check (status = 'pending' or locked_until is null)
);

create index inbound_events_claim on inbound_events (id) where status = 'pending';
create index inbound_events_order on inbound_events (portal_id, order_key, id)
  where status = 'pending' and order_key is not null;
create index inbound_events_portal_id on inbound_events (portal_id);
create index inbound_events_processed_at on inbound_events (processed_at) where status <> 'pending';

comment on table inbound_events is
  'Bitrix24 events inbox: sealed body until processed (R8), finished rows purged after 30 days (R5)';
