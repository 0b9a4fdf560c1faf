-- The intake role and database. Run once as the postgres superuser:
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -f deploy/postgresql/setup.sql
-- With peer authentication (pg_hba.conf) the role needs no password; for a
-- password, afterwards: \password intake
CREATE ROLE intake LOGIN;
CREATE DATABASE intake OWNER intake ENCODING 'UTF8' TEMPLATE template0;
-- Nobody else may even connect to it.
REVOKE ALL ON DATABASE intake FROM PUBLIC;
\connect intake
-- Only the owner creates objects in the schema (PostgreSQL < 15 let anyone).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
