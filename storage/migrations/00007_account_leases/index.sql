-- v7: account leases for scale-out: each messenger account runs in exactly one Olchat instance at a time

-- Olchat processes sharing this database: who is there and since when, for operators and for spreading
-- accounts between instances. Ownership itself is decided by account_leases alone, never by this table.
create table instances (
  id text primary key,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now()
);

create index instances_heartbeat_at on instances (heartbeat_at);

comment on table instances is 'Olchat processes on this database and their last heartbeat (diagnostics)';

-- One row per account for the account's whole life (seeded by the trigger below), so the fencing token only
-- ever grows: a release clears the owner but keeps the token, and every acquisition sets it to token + 1.
-- All times come from the database clock, so instances with skewed clocks agree on expiry.
create table account_leases (
  account_id uuid primary key references accounts (id) on delete cascade,
  -- Instance id of the holder; null when never held or released. An expired lease keeps its last owner.
  owner text,
  fencing_token bigint not null default 0 check (fencing_token >= 0),
  expires_at timestamptz,
  acquired_at timestamptz,
  renewed_at timestamptz,
  constraint account_leases_owned check ((owner is null) = (expires_at is null)),
  constraint account_leases_times check (
    owner is null or (acquired_at is not null and renewed_at is not null)
  )
);

-- Free leases (never held, released: null) first, then the longest expired.
create index account_leases_expires_at on account_leases (expires_at nulls first);
create index account_leases_owner on account_leases (owner) where owner is not null;

comment on table account_leases is
  'Which instance runs each messenger account: heartbeat (expires_at) and fencing token';

create function account_leases_seed() returns trigger
language plpgsql
as $$
begin
  insert into account_leases (account_id) values (new.id);
  return null;
end
$$;

create trigger accounts_seed_lease after insert on accounts
  for each row execute function account_leases_seed();

insert into account_leases (account_id) select id from accounts;
