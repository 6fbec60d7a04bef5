-- v4: durable delivery queue (R8): message bodies live here, sealed, only until delivered

-- One row per relay job. Claimed with FOR UPDATE SKIP LOCKED in (chat, direction, id) order. A finished
-- row ('done' or 'dead') keeps only metadata: the CHECK below makes a kept body impossible (R8). Finished
-- rows stay a while so a repeated idempotency key is still recognised, then the retention sweep drops them.
create table deliveries (
  id bigint generated always as identity primary key,
  account_id uuid not null references accounts (id) on delete cascade,
  -- Null for account-level jobs that have no chat (no ordering among them).
  chat_id bigint references chats (id) on delete cascade,
  direction text not null check (direction in ('to_portal', 'to_messenger')),
  kind text not null check (kind in ('message', 'edit', 'delete', 'read', 'status')),
  idempotency_key text not null unique,
  payload_enc bytea,
  status text not null default 'pending' check (status in ('pending', 'in_flight', 'done', 'dead')),
  attempts integer not null default 0 check (attempts >= 0),
  available_at timestamptz not null default now(),
  locked_until timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  -- Dead letter: an undeliverable body is dropped after 7 days at most (R8).
  expires_at timestamptz not null default now() + interval '7 days',
  finished_at timestamptz,
  constraint deliveries_body_dropped check (status in ('pending', 'in_flight') or payload_enc is null),
  constraint deliveries_lock check ((status = 'in_flight') = (locked_until is not null)),
  constraint deliveries_finished check ((status in ('done', 'dead')) = (finished_at is not null))
);

-- Claiming: per account (account actor) or per direction (portal side), oldest first.
create index deliveries_claim_account on deliveries (account_id, direction, id) where status = 'pending';
create index deliveries_claim_direction on deliveries (direction, id) where status = 'pending';
-- Per-chat order check: is an earlier row of this chat still pending or in flight?
create index deliveries_chat_order on deliveries (chat_id, direction, id)
  where status in ('pending', 'in_flight');
create index deliveries_locked_until on deliveries (locked_until) where status = 'in_flight';
create index deliveries_expires_at on deliveries (expires_at) where status in ('pending', 'in_flight');
create index deliveries_finished_at on deliveries (finished_at) where status in ('done', 'dead');

comment on table deliveries is
  'R8: relay queue; bodies sealed and dropped on delivery or after 7 days (dead)';
