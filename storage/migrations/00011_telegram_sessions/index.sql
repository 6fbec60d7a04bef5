-- v11: Telegram (mtcute) session storage per account: auth keys, key-value state, peers, message refs and
-- the message → chat map (S4, R1, R2)

-- mtcute's storage repositories, one table each, every row owned by an account. Secrets and personal data
-- are sealed by the application (`*_enc`, context `<table>.<column>`); what stays in clear is numeric ids and
-- flags. Rows go with the account (ON DELETE CASCADE) and on disconnect (account cleanup, R1/R2).

create table telegram_auth_keys (
  account_id uuid not null references accounts (id) on delete cascade,
  dc integer not null,
  -- -1 is the permanent key of the DC; temporary (PFS) keys are stored by their connection index.
  temp_index integer not null default -1,
  key_enc bytea not null,
  -- Temporary keys only: mtcute's expiry time (the value it gives, compared with the `now` it passes).
  expires bigint,
  primary key (account_id, dc, temp_index),
  check ((temp_index = -1) = (expires is null))
);

-- Update state (pts, qts, date, seq), DC options, salts, the current user.
create table telegram_kv (
  account_id uuid not null references accounts (id) on delete cascade,
  key text not null,
  value_enc bytea not null,
  primary key (account_id, key)
);

-- Peers seen by the account (users and chats) with their access hashes and TL-serialised objects: names,
-- usernames and phone numbers live only inside the sealed columns (I2).
create table telegram_peers (
  account_id uuid not null references accounts (id) on delete cascade,
  peer_id bigint not null,
  is_min boolean not null,
  -- mtcute's update time of the entry, unix seconds.
  updated bigint not null,
  -- Sealed JSON: access hash, usernames, phone.
  info_enc bytea not null,
  complete_enc bytea not null,
  primary key (account_id, peer_id)
);

-- Where a "min" peer was last seen (mtcute's reference messages).
create table telegram_message_refs (
  account_id uuid not null references accounts (id) on delete cascade,
  peer_id bigint not null,
  chat_id bigint not null,
  msg_id integer not null,
  primary key (account_id, peer_id, chat_id, msg_id)
);

create index telegram_message_refs_chat on telegram_message_refs (account_id, chat_id);

-- Deletions in private chats carry only message ids (one numbering per account): which chat each relayed
-- message is in. Pruned with message metadata (R3).
create table telegram_message_chats (
  account_id uuid not null references accounts (id) on delete cascade,
  msg_id integer not null,
  chat_id bigint not null,
  seen_at timestamptz not null default now(),
  primary key (account_id, msg_id)
);

create index telegram_message_chats_seen_at on telegram_message_chats (seen_at);

comment on table telegram_auth_keys is 'R1: Telegram auth keys (sealed), deleted when the account is disconnected';
comment on table telegram_kv is 'R1: Telegram session state (sealed), deleted when the account is disconnected';
comment on table telegram_peers is 'R2: Telegram peers cache (sealed), cleared when the account is disconnected';
comment on table telegram_message_refs is 'R2: where min peers were seen, cleared on disconnect';
comment on table telegram_message_chats is 'R3: message id to chat map for private-chat deletions';
