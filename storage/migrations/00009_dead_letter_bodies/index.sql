-- v9: dead letters keep their body until the row's expires_at (R8: "an undeliverable one at most 7 days"), so an
-- admin can retry them; delivered rows still never hold a body. The retention sweep (deliveries.expire) drops the
-- bodies of dead rows once expires_at has passed.
alter table deliveries drop constraint deliveries_body_dropped;
alter table deliveries add constraint deliveries_body_dropped check (status <> 'done' or payload_enc is null);
