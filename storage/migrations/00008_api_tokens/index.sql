-- v8: bearer tokens of the admin API (P1), stored as sha256 hashes only

-- A token is a random secret handed to its holder once; only its hash is kept, so a leaked table grants
-- nothing. `name` marks tokens managed from outside (OLCHAT_ADMIN_TOKEN is upserted under its variable name
-- at every start, so changing the variable replaces the old token). A token with a portal is limited to that
-- portal's accounts (tenant isolation); without one it reaches every portal (support staff).
create table api_tokens (
  id uuid primary key default gen_random_uuid(),
  name text unique,
  token_hash bytea not null unique check (length(token_hash) = 32),
  -- Unknown roles grant nothing (the role table lives in code, src/http/admin/permissions.ts).
  role text not null,
  portal_id uuid references portals (id) on delete cascade,
  created_at timestamptz not null default now(),
  last_used_at timestamptz
);

create index api_tokens_portal_id on api_tokens (portal_id) where portal_id is not null;

comment on table api_tokens is 'P1: admin API bearer tokens (sha256 only), optionally scoped to one portal';
