-- v10: audit chain positions (P2, D5, R5): a gap-free sequence number per entry and one chain-head row

-- 00005 already chains entries by hash (prev_hash, hash). What it cannot show is a missing entry at the end
-- of the chain, and appends are ordered only by an advisory lock. Here every entry gets its position (seq,
-- 1, 2, 3 … with no gaps, continuing after entries already purged), the anchor records the position of the
-- last purged entry, and `audit_chain_head` holds the position and hash of the newest entry. Appends lock
-- that row (FOR UPDATE) and update it in the same transaction, so they are serialised by the row lock and
-- verification can check that the chain reaches the head.
alter table audit_log add column seq bigint;

-- Existing entries take their position in id order (the order they were chained in), after the purged ones.
update audit_log
set seq = numbered.seq
from (
  select id,
    row_number() over (order by id) + coalesce((select purged_count from audit_anchor where id = 1), 0) as seq
  from audit_log
) numbered
where audit_log.id = numbered.id;

alter table audit_log alter column seq set not null;
alter table audit_log add constraint audit_log_seq_positive check (seq > 0);
alter table audit_log add constraint audit_log_seq_key unique (seq);

alter table audit_anchor add column last_seq bigint;
update audit_anchor set last_seq = purged_count;
alter table audit_anchor alter column last_seq set not null;
alter table audit_anchor add constraint audit_anchor_last_seq check (last_seq >= 0);

comment on column audit_anchor.last_seq is 'seq of the last purged entry: verification starts after it';

create table audit_chain_head (
  id smallint primary key default 1 check (id = 1),
  -- 0 and a null hash: nothing was ever appended.
  seq bigint not null default 0 check (seq >= 0),
  hash bytea,
  updated_at timestamptz not null default now(),
  constraint audit_chain_head_hash check ((seq = 0) = (hash is null))
);

insert into audit_chain_head (id, seq, hash)
select 1,
  coalesce((select seq from audit_log order by seq desc limit 1), (select last_seq from audit_anchor), 0),
  coalesce((select hash from audit_log order by seq desc limit 1), (select hash from audit_anchor));

comment on table audit_chain_head is
  'P2: position and hash of the newest audit entry; appends lock this row (technical, no personal data)';
