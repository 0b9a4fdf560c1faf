"""The tests' name for `harness.databases`, which the benchmarks share."""

from harness.databases import DEFAULT_POSTGRES_URL as DEFAULT_POSTGRES_URL
from harness.databases import every_value as every_value
from harness.databases import fresh_database as fresh_database
from harness.databases import postgres_admin_url as postgres_admin_url
from harness.databases import postgres_unavailable_reason as postgres_unavailable_reason
