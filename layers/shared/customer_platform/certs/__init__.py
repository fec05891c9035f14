"""Certificates the functions trust when they connect to the database over TLS.

`database-ca-bundle.pem` holds, in this order:

* the Amazon RDS global bundle of root CAs (the 2021 "G1" roots, RSA2048, RSA4096 and
  ECC384, one of each per region): what an RDS for MySQL instance's certificate chains to.
  AWS publishes it at https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
  (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html). The copy
  here is the snapshot with sha256 05c6b4a9bf4daa95c888711481e19cc8e2e11aed4de8db759f51f4a6fce64917
  (102 roots, 32 regions); tests/integration/test_database_tls.py checks this part against
  that checksum, and every certificate is a self-signed, unexpired Amazon RDS G1 root (none
  of the retired rds-ca-2019 ones). A region launched later needs a newer bundle: download
  it, check it the same way, replace the first part of the file and the checksum above.
* Amazon Root CA 1 to 4 (from certifi's copy of the Mozilla store): what an RDS Proxy's
  certificate (issued by ACM) chains to.
"""
