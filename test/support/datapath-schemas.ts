/** Schemas the data tool's tests back up, restore and compare. */
import { hasExtension, PgServer } from "./postgres";

export const HAVE_BTREE_GIST = hasExtension("btree_gist");

/** A varied schema: extension types, jsonb, bytea, arrays, numerics, partitions, FKs, sequences. */
export const VARIED_SCHEMA = `
CREATE EXTENSION citext;
CREATE EXTENSION hstore;
CREATE SCHEMA audit;
CREATE TABLE providers (
  id bigserial PRIMARY KEY,
  code citext NOT NULL UNIQUE,
  name text NOT NULL,
  attrs hstore,
  profile jsonb,
  logo bytea,
  tags text[],
  fee numeric(20, 6),
  ratio double precision,
  opened date,
  updated_at timestamptz,
  note text
);
INSERT INTO providers (code, name, attrs, profile, logo, tags, fee, ratio, opened, updated_at, note)
SELECT 'P' || g,
       'Provider ' || g || ' – Ünïcödé ✓ 🎓',
       CASE WHEN g % 5 = 0 THEN NULL ELSE hstore(ARRAY['k' || g, 'v' || (g * 2)]) END,
       jsonb_build_object('id', g, 'nested', jsonb_build_object('a', ARRAY[g, g + 1]), 's', 'quote '' and "dq"'),
       CASE WHEN g % 7 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') || '\\x00ff'::bytea END,
       ARRAY['t' || g % 3, NULL, 'with,comma'],
       (g * 1.234567)::numeric(20, 6),
       g / 3.0,
       DATE '2020-01-01' + g,
       TIMESTAMPTZ '2024-07-24 06:00:00+01' + g * interval '1 minute',
       CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN E'tab\\there\\nnewline \\\\ backslash' WHEN 2 THEN '' ELSE repeat('x', 3000) END
  FROM generate_series(1, 1500) g;
CREATE TABLE courses (
  id serial,
  provider_id bigint NOT NULL REFERENCES providers (id),
  title text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE courses_2023 PARTITION OF courses FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE courses_2024 PARTITION OF courses FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO courses (provider_id, title, created_at)
SELECT 1 + g % 1500, 'Course ' || g, TIMESTAMPTZ '2023-06-01 00:00:00+00' + g * interval '1 hour'
  FROM generate_series(1, 8000) g;
CREATE INDEX courses_title_idx ON courses (title);
CREATE SEQUENCE invoice_number_seq START 1000;
SELECT setval('invoice_number_seq', 4242);
CREATE TABLE audit.events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  payload jsonb,
  amount_pence integer,
  amount_pounds numeric GENERATED ALWAYS AS (amount_pence / 100.0) STORED
);
INSERT INTO audit.events (payload, amount_pence) SELECT jsonb_build_object('n', g), g FROM generate_series(1, 300) g;
CREATE TABLE empty_table (id int PRIMARY KEY, v text);
CREATE VIEW provider_names AS SELECT id, name FROM providers;
`;

/**
 * A schema none of the other tests use: several schemas (one quoted mixed-case), domains,
 * a composite type, enums in arrays, generated and custom identity columns, a table without a
 * primary key holding duplicate rows, views, materialized views (one indexed, one never
 * populated), plpgsql trigger, RLS policy, comments, a CHECK calling a function, an exclusion
 * constraint, large objects, an unlogged table, multi-MB TOASTed values, special float and
 * time values, and most of PostgreSQL's scalar types.
 */
export const EXOTIC_SCHEMA = `
${HAVE_BTREE_GIST ? "CREATE EXTENSION btree_gist;" : ""}
CREATE SCHEMA "Billing";
CREATE SCHEMA ops;
CREATE DOMAIN public.email AS text CHECK (VALUE ~ '^[^@\\s]+@[^@\\s]+$');
CREATE DOMAIN public.positive_int AS integer NOT NULL CHECK (VALUE > 0);
CREATE TYPE public.address AS (street text, city text, postcode varchar(8));
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy', 'ecstatic');
CREATE TYPE "Billing"."Status" AS ENUM ('Draft', 'Issued', 'Paid');
CREATE FUNCTION public.valid_code(c text) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT c ~ '^[A-Z]{2}[0-9]{3}$' $$;
CREATE FUNCTION public.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TABLE "Billing"."Invoices" (
  "Id" bigint GENERATED ALWAYS AS IDENTITY
    (START WITH 1000 INCREMENT BY 7 MINVALUE 1000 MAXVALUE 9999999 CACHE 3) PRIMARY KEY,
  "Code" text NOT NULL CHECK (public.valid_code("Code")),
  status "Billing"."Status" NOT NULL DEFAULT 'Draft',
  net_pence integer NOT NULL,
  vat_pence integer GENERATED ALWAYS AS (net_pence / 5) STORED,
  amount money,
  billed_to public.address,
  contact public.email,
  qty public.positive_int,
  moods public.mood[],
  updated_at timestamptz
);
CREATE TRIGGER invoices_touch BEFORE UPDATE ON "Billing"."Invoices"
  FOR EACH ROW EXECUTE FUNCTION public.touch_updated_at();
COMMENT ON TABLE "Billing"."Invoices" IS 'Invoices – mixed-case schema ✓';
COMMENT ON COLUMN "Billing"."Invoices"."Code" IS 'two letters, three digits';
INSERT INTO "Billing"."Invoices" ("Code", status, net_pence, amount, billed_to, contact, qty, moods, updated_at)
SELECT 'AB' || lpad((g % 1000)::text, 3, '0'),
       (ARRAY['Draft', 'Issued', 'Paid']::"Billing"."Status"[])[1 + g % 3],
       g * 100, (g * 1.23)::numeric::money, ROW('1 High St', 'Leeds', 'LS1 ' || g % 10)::public.address,
       'user' || g || '@example.com', 1 + g % 9,
       CASE g % 3 WHEN 0 THEN ARRAY['sad', 'happy']::public.mood[] WHEN 1 THEN '{}'::public.mood[] END,
       TIMESTAMPTZ '2024-07-24 05:00:00+00' + g * interval '1 second'
  FROM generate_series(1, 400) g;
ALTER TABLE "Billing"."Invoices" ENABLE ROW LEVEL SECURITY;
CREATE POLICY invoices_paid_only ON "Billing"."Invoices" FOR SELECT USING (status = 'Paid');

CREATE TABLE ops.event_log (kind text, payload jsonb, at timestamp);
INSERT INTO ops.event_log SELECT 'dup', '{"a": 1}', TIMESTAMP '2024-01-01' FROM generate_series(1, 5);
INSERT INTO ops.event_log SELECT NULL, NULL, NULL FROM generate_series(1, 3);
INSERT INTO ops.event_log
SELECT 'k' || g, jsonb_build_object('g', g), TIMESTAMP '2024-01-01' + g * interval '1 day'
  FROM generate_series(1, 50) g;

CREATE TABLE public.oddities (
  id int PRIMARY KEY,
  f8 double precision, f4 real, num numeric,
  ts timestamp, tstz timestamptz, d date, iv interval,
  r int4range, tr tstzrange, dr daterange, nr numrange,
  tv tsvector, tq tsquery, u uuid,
  ip inet, net cidr, mac macaddr, mac8 macaddr8,
  m money, b bit(8), vb varbit, x xml, j json, pt point, bx box,
  t time, ttz timetz, ch char(5), oid_ref oid
);
INSERT INTO public.oddities VALUES
 (1, 'NaN', 'NaN', 'NaN', 'infinity', '-infinity', 'infinity', '1 year 2 mons 3 days 04:05:06.789',
  '[1,10)', '[2024-01-01 00:00+00,infinity)', '(,2024-07-24]', '(1.5,2.5]',
  to_tsvector('english', 'The quick brown foxes jumped'), to_tsquery('english', 'fox & !dog'),
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '192.168.1.5/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
  '-12.34', B'10101010', B'101', '<a x="1">t&amp;<b/></a>', '{"k": [1, 2.50, "x"]}', '(1.5,-2)',
  '((0,0),(1,1))', '23:59:59.999999', '12:00+05:30', 'ab', 12345),
 (2, 'Infinity', '-Infinity', '-0.000', '-infinity', 'infinity', '-infinity', '-178000000 years',
  'empty', 'empty', '[2024-01-01,2024-01-02)', NULL,
  ''::tsvector, NULL, '00000000-0000-0000-0000-000000000000',
  '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', NULL,
  '0', B'00000000', B'', '<?xml version="1.0"?><r/>', 'null', NULL, NULL,
  '00:00', '00:00-12', '     ', 0),
 (3, '-0', '-0', '1e-30', '2000-02-29 12:34:56.123456', '1970-01-01 00:00:00.000001+00',
  '0001-01-01 BC', '-1 day +02:00', '(,)', NULL, NULL, '[-1e20,1e20]',
  'a:1A b:2B,3 ''quoted''', 'a <-> b', 'b1a2c3d4-0000-4000-8000-000000000003',
  '0.0.0.0/0', '0.0.0.0/0', '00:00:00:00:00:00', '00:00:00:00:00:00:00:00',
  '92233720368547758.07', B'11111111', repeat('1', 100)::varbit, 'plain text', '[]',
  '(1e300,-1e-300)', NULL, NULL, NULL, NULL, NULL),
 (4, 1.7976931348623157e308, 1.4e-45, 0.1, NULL, NULL, NULL, '1 day', NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL);

CREATE TABLE ops.bookings (
  id serial PRIMARY KEY, room int NOT NULL, during tstzrange NOT NULL
  ${HAVE_BTREE_GIST ? ", EXCLUDE USING gist (room WITH =, during WITH &&)" : ""}
);
INSERT INTO ops.bookings (room, during)
SELECT g % 5, tstzrange(TIMESTAMPTZ '2024-01-01 00:00+00' + g * interval '1 hour',
                        TIMESTAMPTZ '2024-01-01 00:00+00' + (g + 1) * interval '1 hour')
  FROM generate_series(1, 200) g;

CREATE UNLOGGED TABLE ops.sessions (sid uuid PRIMARY KEY, data jsonb);
INSERT INTO ops.sessions SELECT md5(g::text)::uuid, jsonb_build_object('n', g) FROM generate_series(1, 100) g;

-- Several MB per row, TOASTed: 3.2 MB of text and 1.6 MB of bytea each.
CREATE TABLE ops.attachments (id int PRIMARY KEY, body text, raw bytea);
INSERT INTO ops.attachments
SELECT g, string_agg(md5(g::text || i::text), '' ORDER BY i),
       decode(string_agg(md5(i::text || g::text), '' ORDER BY i), 'hex')
  FROM generate_series(1, 3) g, generate_series(1, 100000) i GROUP BY g;

CREATE VIEW "Billing".paid_invoices AS
  SELECT "Id", "Code", net_pence FROM "Billing"."Invoices" WHERE status = 'Paid';
CREATE MATERIALIZED VIEW ops.invoice_totals AS
  SELECT status, count(*) AS n, sum(net_pence) AS net FROM "Billing"."Invoices" GROUP BY status;
CREATE UNIQUE INDEX invoice_totals_status ON ops.invoice_totals (status);
CREATE MATERIALIZED VIEW ops.never_refreshed AS SELECT 1 AS one WITH NO DATA;

SELECT lo_from_bytea(0, convert_to(repeat('large object payload ', 1000), 'UTF8'));
SELECT lo_from_bytea(0, '\\x00ff00ff'::bytea);
CREATE TABLE ops.documents (id int PRIMARY KEY, content oid);
INSERT INTO ops.documents SELECT row_number() OVER (ORDER BY oid), oid FROM pg_largeobject_metadata;

-- 1,200 columns (the limit is 1,600).
DO $$ BEGIN
  EXECUTE 'CREATE TABLE ops.very_wide ('
    || (SELECT string_agg('c' || g || ' int', ', ') FROM generate_series(1, 1200) g) || ')';
  EXECUTE 'INSERT INTO ops.very_wide SELECT '
    || (SELECT string_agg('g + ' || i, ', ') FROM generate_series(1, 1200) i)
    || ' FROM generate_series(1, 20) g';
END $$;
`;

/** Enough incompressible data that a dump or a load is still running when interrupted. */
/**
 * An extension configuration table (pg_extension_config_dump), driven with contrib's cube (on
 * every major the tests run on; any extension would do): that function may only be called from an
 * extension script, so the table is recorded in pg_extension the way it does. 50 builtin rows the
 * filter leaves out, one site row pg_dump writes.
 */
export const EXTENSION_CONFIG_TABLE = `
CREATE EXTENSION cube;
CREATE TABLE unit_settings (id int PRIMARY KEY, name text NOT NULL, builtin boolean NOT NULL);
ALTER EXTENSION cube ADD TABLE unit_settings;
-- What pg_extension_config_dump('unit_settings', 'WHERE NOT builtin') records.
UPDATE pg_catalog.pg_extension
   SET extconfig = ARRAY['public.unit_settings'::pg_catalog.regclass::pg_catalog.oid],
       extcondition = ARRAY['WHERE NOT builtin']
 WHERE extname = 'cube';
INSERT INTO unit_settings SELECT g, 'builtin ' || g, true FROM generate_series(1, 50) g;
INSERT INTO unit_settings VALUES (1001, 'site setting', false);
`;

export const BULK_SCHEMA = `
CREATE TABLE a_small (id int PRIMARY KEY, v text);
INSERT INTO a_small SELECT g, 'v' || g FROM generate_series(1, 100) g;
CREATE TABLE blobs (id int PRIMARY KEY, a text, b text);
INSERT INTO blobs SELECT g, md5(random()::text) || md5(random()::text), md5(random()::text)
  FROM generate_series(1, 200000) g;
`;

/** Table `t`: `rows` rows of (id, `value`), `g` the row number. */
export const numberedRows = (rows: number, value: string) =>
  `CREATE TABLE t (id int PRIMARY KEY, v text);
   INSERT INTO t SELECT g, ${value} FROM generate_series(1, ${rows}) g;`;

/** A one-row table that tells a database's old content from a restored one. */
export const marker = (value: string) =>
  `CREATE TABLE marker (v text); INSERT INTO marker VALUES ('${value}');`;

/** A data-path fixture's set-up: database `db` created on the server, holding `schema`. */
export function seeded(db = "app", schema = VARIED_SCHEMA): (pg: PgServer) => Promise<void> {
  return async (pg) => {
    await pg.createDatabase(db);
    await pg.query(db, schema);
  };
}
