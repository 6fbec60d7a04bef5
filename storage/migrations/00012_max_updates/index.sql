-- v12: MAX webhook updates, persisted before the 200 answer and drained by the process that runs the account

-- MAX retries a webhook delivery that got no 200 and unsubscribes the bot after 8 h of failures
-- (reference/max-bot-api.md §4.2), so the endpoint stores the raw update (sealed: it holds message texts) and
-- answers at once; whichever process owns the account drains its rows in arrival order. The same update can
-- arrive twice: `update_key` is its identity (type + message id, never `seq`, which overflows JS numbers), and
-- a handled row keeps only that key, without its body, until the retry window has passed.
create table max_updates (
  id bigint generated always as identity primary key,
  account_id uuid not null references accounts (id) on delete cascade,
  update_key text not null,
  update_type text not null,
  body_enc bytea,
  received_at timestamptz not null default now(),
  handled_at timestamptz,
  unique (account_id, update_key),
  constraint max_updates_body check ((handled_at is null) = (body_enc is not null))
);

create index max_updates_pending on max_updates (account_id, id) where handled_at is null;
create index max_updates_handled on max_updates (account_id, handled_at) where handled_at is not null;

comment on table max_updates is
  'MAX webhook inbox: sealed body until handed to the relay, then a dedup key only (deleted after 48 h)';
