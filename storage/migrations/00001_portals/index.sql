-- v1: portals (installed Bitrix24 tenants, I6) and their connector / Open Line settings (R4)

-- One row per installed portal. Deleting it deletes everything of the portal through ON DELETE CASCADE
-- (uninstall D3, full deletion D4). Columns ending in _enc are sealed by the application (PRIVACY S4).
create table portals (
  id uuid primary key default gen_random_uuid(),
  member_id text not null unique,
  domain text not null,
  server_endpoint text,
  client_endpoint text,
  status text not null default 'active'
    check (status in ('active', 'needs_reauth', 'uninstalled')),
  application_token_enc bytea,
  access_token_enc bytea,
  refresh_token_enc bytea,
  token_expires_at timestamptz,
  -- Per-portal local-app credentials (client id is public, the secret is sealed).
  app_client_id text,
  app_client_secret_enc bytea,
  rate_plan text not null default 'standard' check (rate_plan in ('standard', 'enterprise')),
  installed_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table portals is
  'I6: installed Bitrix24 portals, sealed tokens; kept until the app is removed (D3)';

-- Connector / Open Line settings, kept until the app is removed from the portal (R4).
create table lines (
  id bigint generated always as identity primary key,
  portal_id uuid not null references portals (id) on delete cascade,
  connector_id text not null,
  line_id text not null,
  settings jsonb not null default '{}' check (jsonb_typeof(settings) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (portal_id, connector_id, line_id)
);

comment on table lines is 'R4: connector and Open Line settings of a portal';
