"""Database backend: `"ENGINE": "django_customers.mysql"` (base.py).

Django's MySQL backend imports `MySQLdb` when this package's `base` module loads; PyMySQL
takes that name first, here, before anything imports it.
"""

import pymysql

pymysql.install_as_MySQLdb()
