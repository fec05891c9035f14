-- Customers of the /rds/customers API.
--
-- id: the server-issued UUID, ASCII and binary-compared (36 bytes, the keyset order).
-- email: stored lower-cased by the API and compared byte for byte (utf8mb4_bin): an
--   accent- or case-folding collation would call different addresses equal. The unique
--   index is what turns a duplicate into a 409, even between concurrent requests.
-- timestamps: UTC with millisecond precision, the precision of the API.
CREATE TABLE IF NOT EXISTS customers (
  id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  name VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  email VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_customers_email (email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
