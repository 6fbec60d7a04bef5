-- v14: the avatar key last queued to the portal for a contact. The portal re-processes a user (and downloads
-- the picture again) whenever a message's user block carries a picture, so a message carries the avatar only
-- when `avatar_key` differs from this. Set in the transaction that queues the message; cleared with the row.

alter table contacts add column avatar_sent_key text;

comment on column contacts.avatar_sent_key is
  'I2: avatar_key last queued to the portal (object key of the contact''s photo)';
