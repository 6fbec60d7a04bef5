-- v15: the account owner's own messages. What the owner types on another device (their phone) is shown in
-- the Open Line as the message of a Bitrix24 employee (`imconnector.send.messages` with `message.user_id`,
-- reference/bitrix24.md §5.8); the portal then sends it back as an operator message (§6.4 "Echo"), which must
-- not reach the customer a second time.

-- The Bitrix24 user the account's own messages are shown as; null: they are not relayed (the default).
alter table accounts add column employee_id bigint check (employee_id > 0);

comment on column accounts.employee_id is
  'I6: Bitrix24 user the account owner''s own messages are shown as (null: not relayed)';

-- On the inbound row of such a message: the employee it was sent as, and the portal's IM message id of its echo
-- once the echo was recognised (so a repeat of that event is recognised again, and one echo pairs one row).
alter table messages add column employee_id bigint;
alter table messages add column echo_id text;

comment on column messages.employee_id is
  'I5: Bitrix24 user an owner''s own message was shown as (null: a customer''s message)';
comment on column messages.echo_id is 'I5: IM message id of the portal''s echo of an owner''s own message';

-- The echo guard looks for the oldest owner's message of a chat that still awaits its echo.
create index messages_owner on messages (chat_id, sent_at) where employee_id is not null;
