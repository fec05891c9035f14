-- Customers synced from the partner feed carry the partner's own id, unique, so a re-run
-- of the sync updates the row it wrote before instead of adding another (the upsert in
-- customer_platform/partners/writing.py is keyed on it). NULL for customers created
-- through the API; a UNIQUE key allows any number of NULLs. One statement: MySQL applies
-- it whole or not at all.
ALTER TABLE customers
  ADD COLUMN partner_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER id,
  ADD UNIQUE KEY uq_customers_partner_id (partner_id);
