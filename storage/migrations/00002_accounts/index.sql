-- v2: messenger accounts (I1), their sealed sessions (R1), contact cache (I2, R2, R6) and chats

create table accounts (
  id uuid primary key default gen_random_uuid(),
  portal_id uuid not null references portals (id) on delete cascade,
  messenger text not null check (messenger in ('telegram', 'max', 'sandbox')),
  -- An unbound account keeps its login; the Open Line can be removed without losing it.
  line_id bigint references lines (id) on delete set null,
  remote_id text,
  display_name text,
  username text,
  phone_enc bytea,
  avatar_key text,
  credentials_enc bytea,
  health text not null default 'connecting' check (health in (
    'connecting', 'online', 'reconnecting', 'needs_login', 'flood_wait', 'disconnecting', 'disconnected'
  )),
  health_changed_at timestamptz not null default now(),
  stale_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index accounts_portal_id on accounts (portal_id);
create index accounts_line_id on accounts (line_id);

comment on table accounts is 'I1: connected messenger accounts; phone and credentials sealed (S4)';

-- Generic per-account session store (messenger auth keys, update state): every value sealed (S4, R1).
create table account_sessions (
  account_id uuid not null references accounts (id) on delete cascade,
  key text not null,
  value_enc bytea not null,
  updated_at timestamptz not null default now(),
  primary key (account_id, key)
);

comment on table account_sessions is 'R1: messenger sessions, deleted when the account is disconnected';

create table contacts (
  id bigint generated always as identity primary key,
  account_id uuid not null references accounts (id) on delete cascade,
  remote_id text not null,
  first_name text,
  last_name text,
  username text,
  phone_enc bytea,
  avatar_key text,
  refreshed_at timestamptz not null default now(),
  stale_at timestamptz,
  unique (account_id, remote_id)
);

create index contacts_stale_at on contacts (stale_at) where stale_at is not null;

comment on table contacts is
  'I2: contact cache (R2 cleared on disconnect, R6 stale rows deleted after 7 days)';

create table chats (
  id bigint generated always as identity primary key,
  account_id uuid not null references accounts (id) on delete cascade,
  contact_id bigint references contacts (id) on delete cascade,
  remote_chat_id text not null,
  -- The Open Lines chat id, known after the first message reached the portal.
  portal_chat_id text,
  context jsonb not null default '{}' check (jsonb_typeof(context) = 'object'),
  last_message_at timestamptz,
  stale_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (account_id, remote_chat_id)
);

create index chats_contact_id on chats (contact_id);
create index chats_portal_chat on chats (account_id, portal_chat_id) where portal_chat_id is not null;
create index chats_stale_at on chats (stale_at) where stale_at is not null;

comment on table chats is 'Account-contact conversation mapped to an Open Lines chat (R6 when unbound)';
