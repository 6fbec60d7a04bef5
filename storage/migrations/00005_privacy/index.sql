-- v5: audit log with hash chain (P2, R5), data requests (D1, D4), analytics (R7), retention deadlines

-- Append-only audit trail. No FK to portals: entries must outlive the portal they are about (D5), so the
-- portal is referred to by a keyed hash or its member id. hash = sha256(prev_hash || canonical JSON).
create table audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  portal_ref text,
  actor text not null,
  actor_role text,
  action text not null,
  target text,
  source_ip text,
  details jsonb not null default '{}' check (jsonb_typeof(details) = 'object'),
  prev_hash bytea,
  hash bytea not null
);

create index audit_log_at on audit_log (at);
create index audit_log_portal_ref on audit_log (portal_ref, id);

comment on table audit_log is 'P2/R5: audit entries, purged after 30 days, chained by hash';

-- One row: the hash of the last purged entry, so the chain still verifies after retention purges (R5).
create table audit_anchor (
  id smallint primary key default 1 check (id = 1),
  last_id bigint not null,
  hash bytea not null,
  purged_count bigint not null default 0,
  updated_at timestamptz not null default now()
);

create table data_requests (
  id uuid primary key default gen_random_uuid(),
  portal_ref text not null,
  kind text not null check (kind in ('access', 'deletion')),
  scope jsonb not null default '{}' check (jsonb_typeof(scope) = 'object'),
  requested_by text not null,
  status text not null default 'pending' check (status in ('pending', 'running', 'done', 'failed')),
  created_at timestamptz not null default now(),
  completed_at timestamptz,
  -- Counts per data class, never the deleted personal data itself (D5).
  receipt jsonb,
  error text
);

create index data_requests_portal_ref on data_requests (portal_ref, created_at);

comment on table data_requests is 'D1/D4: access and deletion requests with their receipts';

-- Daily counters. A null account_id is the portal-wide bucket; NULLS NOT DISTINCT keeps it unique too.
create table analytics_daily (
  id bigint generated always as identity primary key,
  portal_id uuid not null references portals (id) on delete cascade,
  account_id uuid references accounts (id) on delete cascade,
  day date not null,
  inbound integer not null default 0 check (inbound >= 0),
  outbound integer not null default 0 check (outbound >= 0),
  failed integer not null default 0 check (failed >= 0),
  constraint analytics_daily_key unique nulls not distinct (portal_id, account_id, day)
);

create index analytics_daily_day on analytics_daily (day);
create index analytics_daily_account_id on analytics_daily (account_id);

comment on table analytics_daily is 'R7: daily aggregates, rolling 90-day history';

-- Long deadlines (R1-R8) as rows with absolute due times; the retention actor claims and runs them.
create table retention_deadlines (
  id bigint generated always as identity primary key,
  data_class text not null,
  subject_type text not null,
  subject_id text not null,
  due_at timestamptz not null,
  -- Set while a sweeper works on the row; a crashed sweeper's claim lapses and the row is due again.
  claimed_until timestamptz,
  created_at timestamptz not null default now(),
  unique (data_class, subject_type, subject_id)
);

create index retention_deadlines_due_at on retention_deadlines (due_at);
