-- v3: message metadata (I5, R3), range-partitioned by origin time into daily partitions

-- Only metadata: no text, no files (I3/I4 are never stored). sent_at is the ORIGIN time (the messenger's
-- date for inbound, the Bitrix24 event time for outbound), so a repeat of a remote message lands on the
-- same row and the 90-day retention (R3) drops whole daily partitions instead of deleting row by row.
create table messages (
  id bigint generated always as identity,
  account_id uuid not null references accounts (id) on delete cascade,
  chat_id bigint not null references chats (id) on delete cascade,
  direction text not null check (direction in ('in', 'out')),
  origin_id text not null,
  target_id text,
  status text not null default 'received'
    check (status in ('received', 'queued', 'delivered', 'read', 'failed', 'deleted')),
  sent_at timestamptz not null,
  delivered_at timestamptz,
  read_at timestamptz,
  edited_at timestamptz,
  primary key (id, sent_at),
  -- Dedup key; unique indexes on a partitioned table must contain the partition key.
  constraint messages_origin_key unique (account_id, origin_id, direction, sent_at)
) partition by range (sent_at);

create index messages_target on messages (account_id, target_id) where target_id is not null;
create index messages_chat on messages (chat_id, sent_at);

-- Catches rows outside the daily partitions, so an insert never fails for lack of a partition.
create table messages_default partition of messages default;

comment on table messages is
  'I5/R3: message metadata, daily partitions by origin time, dropped after 90 days';

-- Creates the daily partitions messages_YYYYMMDD (UTC days) for [p_from, p_to]; idempotent. Rows of a new
-- day already sitting in the default partition are moved into it (PostgreSQL refuses to create a partition
-- whose rows are in the default one). Returns how many partitions it created.
create function messages_ensure_partitions(p_from date, p_to date) returns integer
language plpgsql
set datestyle = 'ISO, YMD'
as $$
declare
  day date;
  part text;
  lower_bound timestamptz;
  upper_bound timestamptz;
  created integer := 0;
begin
  -- Two processes maintaining partitions at once must not race on the same day.
  perform pg_advisory_xact_lock(hashtext('olchat.messages_partitions'));
  for day in select generate_series(p_from, p_to, interval '1 day')::date loop
    part := 'messages_' || to_char(day, 'YYYYMMDD');
    continue when to_regclass(part) is not null;
    lower_bound := day::timestamp at time zone 'UTC';
    upper_bound := (day + 1)::timestamp at time zone 'UTC';
    execute format('create table %I (like messages including defaults including constraints)', part);
    execute format(
      'insert into %I select * from messages_default where sent_at >= $1 and sent_at < $2', part
    ) using lower_bound, upper_bound;
    delete from messages_default where sent_at >= lower_bound and sent_at < upper_bound;
    execute format(
      'alter table messages attach partition %I for values from (%L) to (%L)', part, lower_bound, upper_bound
    );
    created := created + 1;
  end loop;
  return created;
end
$$;

-- Retention (R3): drops every daily partition whose upper bound is at or before p_cutoff, then deletes the
-- rows older than p_cutoff left in the boundary day and in the default partition.
create function messages_drop_before(p_cutoff timestamptz)
returns table (dropped_partitions integer, deleted_rows bigint)
language plpgsql
set datestyle = 'ISO, YMD'
as $$
declare
  part record;
  n bigint;
begin
  perform pg_advisory_xact_lock(hashtext('olchat.messages_partitions'));
  dropped_partitions := 0;
  deleted_rows := 0;
  for part in
    select bounds.rel
    from (
      select c.oid::regclass as rel, (
          regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)')
        )[1]::timestamptz as upper_bound
      from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'messages'::regclass
    ) bounds
    where bounds.upper_bound <= p_cutoff
  loop
    execute format('select count(*) from %s', part.rel) into n;
    execute format('drop table %s', part.rel);
    dropped_partitions := dropped_partitions + 1;
    deleted_rows := deleted_rows + n;
  end loop;
  delete from messages where sent_at < p_cutoff;
  get diagnostics n = row_count;
  deleted_rows := deleted_rows + n;
  return next;
end
$$;

-- A fresh install starts with partitions around today; the retention sweep keeps creating them ahead.
select messages_ensure_partitions(
  (now() at time zone 'UTC')::date - 1,
  (now() at time zone 'UTC')::date + 7
);
