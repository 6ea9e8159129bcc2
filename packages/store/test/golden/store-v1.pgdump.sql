--
-- PostgreSQL database dump
--

\restrict QGbceNeZcqsXJDDV9n7bbDcGhGntOwgArvMXesgTPHYtD4lEeH7BXa4W5NoVyZU

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: baton_golden_v1; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA baton_golden_v1;


--
-- Name: baton_merge_counts(text, text); Type: FUNCTION; Schema: baton_golden_v1; Owner: -
--

CREATE FUNCTION baton_golden_v1.baton_merge_counts(a text, b text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb)::text FROM (
    SELECT key AS k, sum(value::numeric) AS v
    FROM (SELECT * FROM jsonb_each_text(a::jsonb) UNION ALL SELECT * FROM jsonb_each_text(b::jsonb)) x
    GROUP BY key) y
$$;


--
-- Name: baton_merge_metrics(text, text); Type: FUNCTION; Schema: baton_golden_v1; Owner: -
--

CREATE FUNCTION baton_golden_v1.baton_merge_metrics(a text, b text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  SELECT coalesce(jsonb_object_agg(k, jsonb_build_object('sum', s, 'count', c)), '{}'::jsonb)::text FROM (
    SELECT key AS k, sum((value->>'sum')::numeric) AS s, sum((value->>'count')::numeric) AS c
    FROM (SELECT * FROM jsonb_each(a::jsonb) UNION ALL SELECT * FROM jsonb_each(b::jsonb)) x
    GROUP BY key) y
$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: baton_schema_migrations; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.baton_schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at bigint NOT NULL
);


--
-- Name: checkpoints; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.checkpoints (
    session_id text NOT NULL,
    seq integer NOT NULL,
    schema_version integer NOT NULL,
    written_by text NOT NULL,
    hash text NOT NULL,
    size integer NOT NULL,
    created_at bigint NOT NULL,
    body text NOT NULL
);
ALTER TABLE ONLY baton_golden_v1.checkpoints ALTER COLUMN body SET COMPRESSION lz4;


--
-- Name: decisions; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.decisions (
    rollout_id text NOT NULL,
    seq integer NOT NULL,
    kind text NOT NULL,
    message text NOT NULL,
    evidence text,
    at bigint NOT NULL
);


--
-- Name: effects; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.effects (
    id text NOT NULL COLLATE pg_catalog."C",
    idempotency_key text NOT NULL,
    session_id text NOT NULL,
    agent text NOT NULL,
    version text NOT NULL,
    rollout_id text,
    turn_id text NOT NULL,
    name text NOT NULL,
    args text,
    status text NOT NULL,
    result text,
    error text,
    compensation text,
    compensation_result text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);


--
-- Name: locks; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.locks (
    name text NOT NULL,
    owner text NOT NULL,
    expires_at bigint NOT NULL
);


--
-- Name: migrations; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.migrations (
    id bigint NOT NULL,
    session_id text NOT NULL,
    seq integer NOT NULL,
    from_version text NOT NULL,
    to_version text NOT NULL,
    from_schema integer NOT NULL,
    to_schema integer NOT NULL,
    context_policy text NOT NULL,
    rollout_id text,
    status text NOT NULL,
    error text,
    at bigint NOT NULL
);


--
-- Name: migrations_id_seq; Type: SEQUENCE; Schema: baton_golden_v1; Owner: -
--

CREATE SEQUENCE baton_golden_v1.migrations_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: migrations_id_seq; Type: SEQUENCE OWNED BY; Schema: baton_golden_v1; Owner: -
--

ALTER SEQUENCE baton_golden_v1.migrations_id_seq OWNED BY baton_golden_v1.migrations.id;


--
-- Name: rollouts; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.rollouts (
    id text NOT NULL,
    agent text NOT NULL,
    from_version text NOT NULL,
    to_version text NOT NULL,
    spec text,
    phase text NOT NULL,
    step integer NOT NULL,
    state text,
    rev integer NOT NULL,
    decision_seq integer NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);


--
-- Name: routes; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.routes (
    agent text NOT NULL,
    stable text NOT NULL,
    candidate text,
    weight double precision NOT NULL,
    move text,
    rollout_id text,
    updated_at bigint NOT NULL
);


--
-- Name: session_aggregates; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.session_aggregates (
    session_id text NOT NULL,
    version text NOT NULL,
    agent text NOT NULL,
    session_started_at bigint NOT NULL,
    first_at bigint NOT NULL,
    last_at bigint NOT NULL,
    turns integer NOT NULL,
    errors integer NOT NULL,
    tool_calls bigint NOT NULL,
    tool_mix text NOT NULL,
    reasoning_steps bigint NOT NULL,
    tokens_in bigint NOT NULL,
    tokens_out bigint NOT NULL,
    latency_ms_sum double precision NOT NULL,
    latency_ms_max double precision NOT NULL,
    context_utilization_max double precision NOT NULL,
    metrics text NOT NULL,
    signals text NOT NULL,
    completed boolean NOT NULL
);


--
-- Name: sessions; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.sessions (
    id text NOT NULL COLLATE pg_catalog."C",
    agent text NOT NULL,
    tenant text,
    version text NOT NULL,
    status text NOT NULL,
    seq integer DEFAULT 0 NOT NULL,
    token_hash text NOT NULL,
    lease_owner text,
    lease_expires_at bigint,
    reason text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    metadata text NOT NULL
);


--
-- Name: steps; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.steps (
    session_id text NOT NULL,
    turn_id text NOT NULL,
    idx integer NOT NULL,
    name text NOT NULL,
    result text
);


--
-- Name: turn_results; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.turn_results (
    session_id text NOT NULL,
    key text NOT NULL,
    result text,
    created_at bigint NOT NULL
);


--
-- Name: turn_telemetry; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.turn_telemetry (
    id bigint NOT NULL,
    session_id text NOT NULL,
    agent text NOT NULL,
    version text NOT NULL,
    turn_id text NOT NULL,
    seq integer NOT NULL,
    at bigint NOT NULL,
    latency_ms double precision NOT NULL,
    tool_calls text NOT NULL,
    reasoning_steps integer NOT NULL,
    tokens_in bigint NOT NULL,
    tokens_out bigint NOT NULL,
    context_utilization double precision NOT NULL,
    metrics text NOT NULL,
    signals text NOT NULL,
    error text
);


--
-- Name: turn_telemetry_id_seq; Type: SEQUENCE; Schema: baton_golden_v1; Owner: -
--

CREATE SEQUENCE baton_golden_v1.turn_telemetry_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: turn_telemetry_id_seq; Type: SEQUENCE OWNED BY; Schema: baton_golden_v1; Owner: -
--

ALTER SEQUENCE baton_golden_v1.turn_telemetry_id_seq OWNED BY baton_golden_v1.turn_telemetry.id;


--
-- Name: versions; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.versions (
    agent text NOT NULL,
    label text NOT NULL,
    schema_version integer NOT NULL,
    model_id text NOT NULL,
    prompt_hash text NOT NULL,
    tool_manifest_hash text NOT NULL,
    code_hash text NOT NULL,
    identity text NOT NULL,
    accepts_schemas text NOT NULL,
    down_schemas text NOT NULL,
    created_at bigint NOT NULL,
    metadata text NOT NULL
);


--
-- Name: waits; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.waits (
    token text NOT NULL,
    session_id text NOT NULL,
    name text NOT NULL,
    deadline bigint NOT NULL,
    schema text,
    created_at bigint NOT NULL,
    status text NOT NULL
);


--
-- Name: workers; Type: TABLE; Schema: baton_golden_v1; Owner: -
--

CREATE TABLE baton_golden_v1.workers (
    id text NOT NULL,
    agent text NOT NULL,
    version text NOT NULL,
    url text,
    health text NOT NULL,
    registered_at bigint NOT NULL,
    last_seen_at bigint NOT NULL
);


--
-- Name: migrations id; Type: DEFAULT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.migrations ALTER COLUMN id SET DEFAULT nextval('baton_golden_v1.migrations_id_seq'::regclass);


--
-- Name: turn_telemetry id; Type: DEFAULT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.turn_telemetry ALTER COLUMN id SET DEFAULT nextval('baton_golden_v1.turn_telemetry_id_seq'::regclass);


--
-- Data for Name: baton_schema_migrations; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.baton_schema_migrations VALUES (1, 'initial', 1796161394685);
INSERT INTO baton_golden_v1.baton_schema_migrations VALUES (2, 'checkpoint bodies compressed with lz4 where the server supports it', 1796161394689);


--
-- Data for Name: checkpoints; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0gk87we5kdgpns1x3zpg', 1, 1, 'v1', '5b4756051b87ab170b38e7db3331f443f224e0118fffeb466fce7c252fd98cdb', 693, 1772355602000, '{"state":{"orderId":null,"ticketId":null,"refund":null,"turns":1,"resolved":false},"history":[{"role":"user","content":"Hi there.","turnId":"turn_e02c5a0cb07e1848498d1f70d89cb05f","at":1772355602000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_e02c5a0cb07e1848498d1f70d89cb05f","at":1772355602000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0gk87we5kdgpns1x3zpg', 2, 1, 'v1', '8bfdecb41fb1971a3598cd4bdae36b66e97cec5f8bd2c646ba3bb32089542ca0', 1471, 1772355603000, '{"state":{"orderId":"A-1003","ticketId":"TCK-d06ae871","refund":null,"turns":2,"resolved":false},"history":[{"role":"user","content":"Hi there.","turnId":"turn_e02c5a0cb07e1848498d1f70d89cb05f","at":1772355602000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_e02c5a0cb07e1848498d1f70d89cb05f","at":1772355602000},{"role":"user","content":"Where is my order A-1003?","turnId":"turn_a4a6124a2a1bf2c08f75b537eb8804ad","at":1772355603000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1003","status":"delayed","amount":238,"etaDays":4}},"turnId":"turn_a4a6124a2a1bf2c08f75b537eb8804ad","at":1772355603000},{"role":"agent","content":{"text":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open.","answer":{"kind":"status","orderId":"A-1003","status":"delayed"},"correct":true,"version":"v1"},"turnId":"turn_a4a6124a2a1bf2c08f75b537eb8804ad","at":1772355603000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1003?"},{"role":"assistant","content":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0gk87we5kdgpns1x3zpg', 3, 1, 'v1', 'ea1e3a27fd0da42d8cb824e31ff48be15a88df0b75753b54139513c05167d696', 2247, 1772355604000, '{"state":{"orderId":"A-1003","ticketId":"TCK-d06ae871","refund":null,"turns":3,"resolved":false},"history":[{"role":"user","content":"Hi there.","turnId":"turn_e02c5a0cb07e1848498d1f70d89cb05f","at":1772355602000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_e02c5a0cb07e1848498d1f70d89cb05f","at":1772355602000},{"role":"user","content":"Where is my order A-1003?","turnId":"turn_a4a6124a2a1bf2c08f75b537eb8804ad","at":1772355603000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1003","status":"delayed","amount":238,"etaDays":4}},"turnId":"turn_a4a6124a2a1bf2c08f75b537eb8804ad","at":1772355603000},{"role":"agent","content":{"text":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open.","answer":{"kind":"status","orderId":"A-1003","status":"delayed"},"correct":true,"version":"v1"},"turnId":"turn_a4a6124a2a1bf2c08f75b537eb8804ad","at":1772355603000},{"role":"user","content":"Can you check the status again?","turnId":"turn_e6dcdb98570e9750a6bbd4ddf904bc07","at":1772355604000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1003","status":"delayed","amount":238,"etaDays":4}},"turnId":"turn_e6dcdb98570e9750a6bbd4ddf904bc07","at":1772355604000},{"role":"agent","content":{"text":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open.","answer":{"kind":"status","orderId":"A-1003","status":"delayed"},"correct":true,"version":"v1"},"turnId":"turn_e6dcdb98570e9750a6bbd4ddf904bc07","at":1772355604000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1003?"},{"role":"assistant","content":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open."},{"role":"user","content":"Can you check the status again?"},{"role":"assistant","content":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0gk87we5kdgpns1x3zpg', 4, 1, 'v1', '9d18410835c87a8ab1ffab5b68e2d1099ab4a19ad414124ef7b66142ba27ff19', 3043, 1772355605000, '{"state":{"orderId":"A-1003","ticketId":"TCK-d06ae871","refund":null,"turns":4,"resolved":false},"history":[{"role":"user","content":"Hi there.","turnId":"turn_e02c5a0cb07e1848498d1f70d89cb05f","at":1772355602000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_e02c5a0cb07e1848498d1f70d89cb05f","at":1772355602000},{"role":"user","content":"Where is my order A-1003?","turnId":"turn_a4a6124a2a1bf2c08f75b537eb8804ad","at":1772355603000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1003","status":"delayed","amount":238,"etaDays":4}},"turnId":"turn_a4a6124a2a1bf2c08f75b537eb8804ad","at":1772355603000},{"role":"agent","content":{"text":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open.","answer":{"kind":"status","orderId":"A-1003","status":"delayed"},"correct":true,"version":"v1"},"turnId":"turn_a4a6124a2a1bf2c08f75b537eb8804ad","at":1772355603000},{"role":"user","content":"Can you check the status again?","turnId":"turn_e6dcdb98570e9750a6bbd4ddf904bc07","at":1772355604000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1003","status":"delayed","amount":238,"etaDays":4}},"turnId":"turn_e6dcdb98570e9750a6bbd4ddf904bc07","at":1772355604000},{"role":"agent","content":{"text":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open.","answer":{"kind":"status","orderId":"A-1003","status":"delayed"},"correct":true,"version":"v1"},"turnId":"turn_e6dcdb98570e9750a6bbd4ddf904bc07","at":1772355604000},{"role":"user","content":"This is ridiculous, it is taking forever.","turnId":"turn_5e87c96daa25cdb0b98a7f7697df65eb","at":1772355605000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1003","status":"delayed","amount":238,"etaDays":4}},"turnId":"turn_5e87c96daa25cdb0b98a7f7697df65eb","at":1772355605000},{"role":"agent","content":{"text":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open.","answer":{"kind":"status","orderId":"A-1003","status":"delayed"},"correct":true,"version":"v1"},"turnId":"turn_5e87c96daa25cdb0b98a7f7697df65eb","at":1772355605000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1003?"},{"role":"assistant","content":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open."},{"role":"user","content":"Can you check the status again?"},{"role":"assistant","content":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open."},{"role":"user","content":"This is ridiculous, it is taking forever."},{"role":"assistant","content":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0nfgywz9mws7rqfrq08d', 1, 1, 'v1', '12f1c6c5883150bbbdeb4e6efadec89f25c2ba5b6c3fa2a53f8755af596b3c37', 687, 1772355607000, '{"state":{"orderId":null,"ticketId":null,"refund":null,"turns":1,"resolved":false},"history":[{"role":"user","content":"Hello.","turnId":"turn_3a6efe7d3930a0a50d7e5d6dd0b33f48","at":1772355607000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_3a6efe7d3930a0a50d7e5d6dd0b33f48","at":1772355607000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hello."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0nfgywz9mws7rqfrq08d', 2, 1, 'v1', '2d355e0ca77fd8cf39277f9cb7cac2cd6457ae86d826f5708f3f508857f65cbe', 1395, 1772355608000, '{"state":{"orderId":"A-1002","ticketId":null,"refund":null,"turns":2,"resolved":true},"history":[{"role":"user","content":"Hello.","turnId":"turn_3a6efe7d3930a0a50d7e5d6dd0b33f48","at":1772355607000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_3a6efe7d3930a0a50d7e5d6dd0b33f48","at":1772355607000},{"role":"user","content":"Where is my order A-1002?","turnId":"turn_fa770c9d2d3f0bdc5eea39d2166e6a95","at":1772355608000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1002","status":"shipped","amount":88,"etaDays":4}},"turnId":"turn_fa770c9d2d3f0bdc5eea39d2166e6a95","at":1772355608000},{"role":"agent","content":{"text":"Your order A-1002 is shipped. Expected in 4 day(s).","answer":{"kind":"status","orderId":"A-1002","status":"shipped"},"correct":true,"version":"v1"},"turnId":"turn_fa770c9d2d3f0bdc5eea39d2166e6a95","at":1772355608000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hello."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1002?"},{"role":"assistant","content":"Your order A-1002 is shipped. Expected in 4 day(s)."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0nfgywz9mws7rqfrq08d', 3, 1, 'v1', 'a53d1829621877fccf21000aaf9647dad2435e4561763d2170c73e2db2cd0ca3', 2129, 1772355609000, '{"state":{"orderId":"A-1002","ticketId":"TCK-64986838","refund":{"orderId":"A-1002","amount":88,"status":"approved"},"turns":3,"resolved":true},"history":[{"role":"user","content":"Hello.","turnId":"turn_3a6efe7d3930a0a50d7e5d6dd0b33f48","at":1772355607000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_3a6efe7d3930a0a50d7e5d6dd0b33f48","at":1772355607000},{"role":"user","content":"Where is my order A-1002?","turnId":"turn_fa770c9d2d3f0bdc5eea39d2166e6a95","at":1772355608000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1002","status":"shipped","amount":88,"etaDays":4}},"turnId":"turn_fa770c9d2d3f0bdc5eea39d2166e6a95","at":1772355608000},{"role":"agent","content":{"text":"Your order A-1002 is shipped. Expected in 4 day(s).","answer":{"kind":"status","orderId":"A-1002","status":"shipped"},"correct":true,"version":"v1"},"turnId":"turn_fa770c9d2d3f0bdc5eea39d2166e6a95","at":1772355608000},{"role":"user","content":"I want a refund for order A-1002.","turnId":"turn_3be3114c0c44d0dc29d91973e8eecb6e","at":1772355609000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1002","status":"shipped","amount":88,"etaDays":4}},"turnId":"turn_3be3114c0c44d0dc29d91973e8eecb6e","at":1772355609000},{"role":"agent","content":{"text":"I refunded $88 for order A-1002.","answer":{"kind":"refund","orderId":"A-1002","amount":88},"correct":true,"version":"v1"},"turnId":"turn_3be3114c0c44d0dc29d91973e8eecb6e","at":1772355609000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hello."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1002?"},{"role":"assistant","content":"Your order A-1002 is shipped. Expected in 4 day(s)."},{"role":"user","content":"I want a refund for order A-1002."},{"role":"assistant","content":"I refunded $88 for order A-1002."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0nfgywz9mws7rqfrq08d', 4, 1, 'v1', 'd13d60c4a79c795bb884eb487c4ef07a5aec4c8901f9c09431e51e68ebe5f81e', 2870, 1772355610000, '{"state":{"orderId":"A-1002","ticketId":"TCK-64986838","refund":{"orderId":"A-1002","amount":88,"status":"approved"},"turns":4,"resolved":true},"history":[{"role":"user","content":"Hello.","turnId":"turn_3a6efe7d3930a0a50d7e5d6dd0b33f48","at":1772355607000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_3a6efe7d3930a0a50d7e5d6dd0b33f48","at":1772355607000},{"role":"user","content":"Where is my order A-1002?","turnId":"turn_fa770c9d2d3f0bdc5eea39d2166e6a95","at":1772355608000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1002","status":"shipped","amount":88,"etaDays":4}},"turnId":"turn_fa770c9d2d3f0bdc5eea39d2166e6a95","at":1772355608000},{"role":"agent","content":{"text":"Your order A-1002 is shipped. Expected in 4 day(s).","answer":{"kind":"status","orderId":"A-1002","status":"shipped"},"correct":true,"version":"v1"},"turnId":"turn_fa770c9d2d3f0bdc5eea39d2166e6a95","at":1772355608000},{"role":"user","content":"I want a refund for order A-1002.","turnId":"turn_3be3114c0c44d0dc29d91973e8eecb6e","at":1772355609000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1002","status":"shipped","amount":88,"etaDays":4}},"turnId":"turn_3be3114c0c44d0dc29d91973e8eecb6e","at":1772355609000},{"role":"agent","content":{"text":"I refunded $88 for order A-1002.","answer":{"kind":"refund","orderId":"A-1002","amount":88},"correct":true,"version":"v1"},"turnId":"turn_3be3114c0c44d0dc29d91973e8eecb6e","at":1772355609000},{"role":"user","content":"Great, thanks.","turnId":"turn_53e45a5682e978baecfb96ac74574f7c","at":1772355610000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1002","status":"shipped","amount":88,"etaDays":4}},"turnId":"turn_53e45a5682e978baecfb96ac74574f7c","at":1772355610000},{"role":"agent","content":{"text":"Your order A-1002 is shipped. Expected in 4 day(s). Ticket TCK-64986838 is open.","answer":{"kind":"status","orderId":"A-1002","status":"shipped"},"correct":true,"version":"v1"},"turnId":"turn_53e45a5682e978baecfb96ac74574f7c","at":1772355610000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hello."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1002?"},{"role":"assistant","content":"Your order A-1002 is shipped. Expected in 4 day(s)."},{"role":"user","content":"I want a refund for order A-1002."},{"role":"assistant","content":"I refunded $88 for order A-1002."},{"role":"user","content":"Great, thanks."},{"role":"assistant","content":"Your order A-1002 is shipped. Expected in 4 day(s). Ticket TCK-64986838 is open."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 1, 1, 'v1', '1acf48206e9c5d39fcf8da1e1454604fbccf38a1355a31863f83c3dae731d6b3', 693, 1772355612000, '{"state":{"orderId":null,"ticketId":null,"refund":null,"turns":1,"resolved":false},"history":[{"role":"user","content":"Hi there.","turnId":"turn_f9f904690ace5b72b85f6a984c398a0c","at":1772355612000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_f9f904690ace5b72b85f6a984c398a0c","at":1772355612000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 3, 1, 'v1', 'ac8ded8ae1996603ee6e817cd4e9cdae7e3f2f092c13e0695618bac8c07d01ab', 2079, 1772355614000, '{"state":{"orderId":"A-1006","ticketId":null,"refund":null,"turns":3,"resolved":true},"history":[{"role":"user","content":"Hi there.","turnId":"turn_f9f904690ace5b72b85f6a984c398a0c","at":1772355612000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_f9f904690ace5b72b85f6a984c398a0c","at":1772355612000},{"role":"user","content":"Where is my order A-1005?","turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1005","status":"delivered","amount":261,"etaDays":0}},"turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000},{"role":"agent","content":{"text":"Your order A-1005 is delivered.","answer":{"kind":"status","orderId":"A-1005","status":"delivered"},"correct":true,"version":"v1"},"turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000},{"role":"user","content":"And where is my order A-1006?","turnId":"turn_c47acfd95cd4fe324286dca878d0f13e","at":1772355614000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1006","status":"shipped","amount":67,"etaDays":1}},"turnId":"turn_c47acfd95cd4fe324286dca878d0f13e","at":1772355614000},{"role":"agent","content":{"text":"Your order A-1006 is shipped. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1006","status":"shipped"},"correct":true,"version":"v1"},"turnId":"turn_c47acfd95cd4fe324286dca878d0f13e","at":1772355614000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1005?"},{"role":"assistant","content":"Your order A-1005 is delivered."},{"role":"user","content":"And where is my order A-1006?"},{"role":"assistant","content":"Your order A-1006 is shipped. Expected in 1 day(s)."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 5, 1, 'v1', '2775d0a147dc954e8bd107c81676c151baf7b73217b05a8b36e9b8eac7d47069', 3423, 1772355616000, '{"state":{"orderId":"A-1005","ticketId":null,"refund":null,"turns":5,"resolved":true},"history":[{"role":"user","content":"Hi there.","turnId":"turn_f9f904690ace5b72b85f6a984c398a0c","at":1772355612000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_f9f904690ace5b72b85f6a984c398a0c","at":1772355612000},{"role":"user","content":"Where is my order A-1005?","turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1005","status":"delivered","amount":261,"etaDays":0}},"turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000},{"role":"agent","content":{"text":"Your order A-1005 is delivered.","answer":{"kind":"status","orderId":"A-1005","status":"delivered"},"correct":true,"version":"v1"},"turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000},{"role":"user","content":"And where is my order A-1006?","turnId":"turn_c47acfd95cd4fe324286dca878d0f13e","at":1772355614000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1006","status":"shipped","amount":67,"etaDays":1}},"turnId":"turn_c47acfd95cd4fe324286dca878d0f13e","at":1772355614000},{"role":"agent","content":{"text":"Your order A-1006 is shipped. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1006","status":"shipped"},"correct":true,"version":"v1"},"turnId":"turn_c47acfd95cd4fe324286dca878d0f13e","at":1772355614000},{"role":"user","content":"Can you check A-1005 again?","turnId":"turn_25479026bcb377ac8e10a5b772eab178","at":1772355615000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1005","status":"delivered","amount":261,"etaDays":0}},"turnId":"turn_25479026bcb377ac8e10a5b772eab178","at":1772355615000},{"role":"agent","content":{"text":"Your order A-1005 is delivered.","answer":{"kind":"status","orderId":"A-1005","status":"delivered"},"correct":true,"version":"v1"},"turnId":"turn_25479026bcb377ac8e10a5b772eab178","at":1772355615000},{"role":"user","content":"Perfect, I appreciate it.","turnId":"turn_12decbd6c19c68a929c0cf335b1824f6","at":1772355616000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1005","status":"delivered","amount":261,"etaDays":0}},"turnId":"turn_12decbd6c19c68a929c0cf335b1824f6","at":1772355616000},{"role":"agent","content":{"text":"Your order A-1005 is delivered.","answer":{"kind":"status","orderId":"A-1005","status":"delivered"},"correct":true,"version":"v1"},"turnId":"turn_12decbd6c19c68a929c0cf335b1824f6","at":1772355616000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1005?"},{"role":"assistant","content":"Your order A-1005 is delivered."},{"role":"user","content":"And where is my order A-1006?"},{"role":"assistant","content":"Your order A-1006 is shipped. Expected in 1 day(s)."},{"role":"user","content":"Can you check A-1005 again?"},{"role":"assistant","content":"Your order A-1005 is delivered."},{"role":"user","content":"Perfect, I appreciate it."},{"role":"assistant","content":"Your order A-1005 is delivered."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma1078pwnbdg5h46zsv62p', 1, 1, 'v1', '73fd097e0bd9346a6682cd237d087082de7bc072e2eb087b951ffd080493fdc0', 693, 1772355618000, '{"state":{"orderId":null,"ticketId":null,"refund":null,"turns":1,"resolved":false},"history":[{"role":"user","content":"Hi there.","turnId":"turn_aea5bd9fb580b488d51ac741eaa8c729","at":1772355618000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_aea5bd9fb580b488d51ac741eaa8c729","at":1772355618000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma1350pt8hp54sz3wnxmj7', 2, 1, 'v1', '8ca09f91f15d0767b8971870a7158f3a289e9886ddc50d3dd514268e54acb00a', 1697, 1772355622000, '{"state":{"orderId":"A-1007","ticketId":null,"refund":null,"turns":2,"resolved":true},"history":[{"role":"user","content":"Where is my order A-1007?","turnId":"turn_02432d221fae7021ada183b2db622789","at":1772355621000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1007","status":"processing","amount":92,"etaDays":1}},"turnId":"turn_02432d221fae7021ada183b2db622789","at":1772355621000},{"role":"agent","content":{"text":"Your order A-1007 is processing. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1007","status":"processing"},"correct":true,"version":"v1"},"turnId":"turn_02432d221fae7021ada183b2db622789","at":1772355621000},{"role":"user","content":"Can you check the status again?","turnId":"turn_267707e239b88fde5a6ef419b7930c05","at":1772355622000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1007","status":"processing","amount":92,"etaDays":1}},"turnId":"turn_267707e239b88fde5a6ef419b7930c05","at":1772355622000},{"role":"agent","content":{"text":"Your order A-1007 is processing. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1007","status":"processing"},"correct":true,"version":"v1"},"turnId":"turn_267707e239b88fde5a6ef419b7930c05","at":1772355622000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Where is my order A-1007?"},{"role":"assistant","content":"Your order A-1007 is processing. Expected in 1 day(s)."},{"role":"user","content":"Can you check the status again?"},{"role":"assistant","content":"Your order A-1007 is processing. Expected in 1 day(s)."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 1, 1, 'v1', '194c678b1c376a6e6672f761b1540cea3a22cad13f09e9029fe05afdbd4a44f8', 693, 1772355626000, '{"state":{"orderId":null,"ticketId":null,"refund":null,"turns":1,"resolved":false},"history":[{"role":"user","content":"Hi there.","turnId":"turn_5af66700a53138609b6e929cbdc41392","at":1772355626000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_5af66700a53138609b6e929cbdc41392","at":1772355626000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 2, 1, 'v1', 'f1e0b900dd9307ce5b99b624d3b4a77fd635d73d58d9e80be8847b8a9fc19d36', 1366, 1772355613000, '{"state":{"orderId":"A-1005","ticketId":null,"refund":null,"turns":2,"resolved":true},"history":[{"role":"user","content":"Hi there.","turnId":"turn_f9f904690ace5b72b85f6a984c398a0c","at":1772355612000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_f9f904690ace5b72b85f6a984c398a0c","at":1772355612000},{"role":"user","content":"Where is my order A-1005?","turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1005","status":"delivered","amount":261,"etaDays":0}},"turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000},{"role":"agent","content":{"text":"Your order A-1005 is delivered.","answer":{"kind":"status","orderId":"A-1005","status":"delivered"},"correct":true,"version":"v1"},"turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1005?"},{"role":"assistant","content":"Your order A-1005 is delivered."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 4, 1, 'v1', 'c1908ccf48faa8d194488250f834bd7d011f9895f41b2f47dc691a3aa498cd99', 2753, 1772355615000, '{"state":{"orderId":"A-1005","ticketId":null,"refund":null,"turns":4,"resolved":true},"history":[{"role":"user","content":"Hi there.","turnId":"turn_f9f904690ace5b72b85f6a984c398a0c","at":1772355612000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_f9f904690ace5b72b85f6a984c398a0c","at":1772355612000},{"role":"user","content":"Where is my order A-1005?","turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1005","status":"delivered","amount":261,"etaDays":0}},"turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000},{"role":"agent","content":{"text":"Your order A-1005 is delivered.","answer":{"kind":"status","orderId":"A-1005","status":"delivered"},"correct":true,"version":"v1"},"turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","at":1772355613000},{"role":"user","content":"And where is my order A-1006?","turnId":"turn_c47acfd95cd4fe324286dca878d0f13e","at":1772355614000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1006","status":"shipped","amount":67,"etaDays":1}},"turnId":"turn_c47acfd95cd4fe324286dca878d0f13e","at":1772355614000},{"role":"agent","content":{"text":"Your order A-1006 is shipped. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1006","status":"shipped"},"correct":true,"version":"v1"},"turnId":"turn_c47acfd95cd4fe324286dca878d0f13e","at":1772355614000},{"role":"user","content":"Can you check A-1005 again?","turnId":"turn_25479026bcb377ac8e10a5b772eab178","at":1772355615000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1005","status":"delivered","amount":261,"etaDays":0}},"turnId":"turn_25479026bcb377ac8e10a5b772eab178","at":1772355615000},{"role":"agent","content":{"text":"Your order A-1005 is delivered.","answer":{"kind":"status","orderId":"A-1005","status":"delivered"},"correct":true,"version":"v1"},"turnId":"turn_25479026bcb377ac8e10a5b772eab178","at":1772355615000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1005?"},{"role":"assistant","content":"Your order A-1005 is delivered."},{"role":"user","content":"And where is my order A-1006?"},{"role":"assistant","content":"Your order A-1006 is shipped. Expected in 1 day(s)."},{"role":"user","content":"Can you check A-1005 again?"},{"role":"assistant","content":"Your order A-1005 is delivered."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma1078pwnbdg5h46zsv62p', 2, 1, 'v1', 'de5a2eb13dcadf0217ec6db18587aadabc093a6d384c3e1a04c2257103acbcbf', 1866, 1772355619000, '{"state":{"orderId":"A-1012","ticketId":"TCK-89aaaf12","refund":{"orderId":"A-1012","amount":165,"status":"pending"},"turns":2,"resolved":false},"history":[{"role":"user","content":"Hi there.","turnId":"turn_aea5bd9fb580b488d51ac741eaa8c729","at":1772355618000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_aea5bd9fb580b488d51ac741eaa8c729","at":1772355618000},{"role":"user","content":"I want a refund for order A-1012.","turnId":"turn_3801c865d1eb8c257fddcb565cc1bdc5","at":1772355619000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1012","status":"shipped","amount":165,"etaDays":5}},"turnId":"turn_3801c865d1eb8c257fddcb565cc1bdc5","at":1772355619000},{"role":"agent","content":{"text":"A refund of $165 for order A-1012 needs a manager''s approval; I''ll let you know.","answer":{"kind":"refund","orderId":"A-1012","amount":165},"correct":true,"version":"v1"},"turnId":"turn_3801c865d1eb8c257fddcb565cc1bdc5","at":1772355619000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"I want a refund for order A-1012."},{"role":"assistant","content":"A refund of $165 for order A-1012 needs a manager''s approval; I''ll let you know."}]},"waits":[{"token":"iByZS5lPucBcQG2d0Shh45rG5L3BPHu2","name":"approval","deadline":1772442019000,"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"approved":{"type":"boolean"},"by":{"type":"string","minLength":1}},"required":["approved","by"],"additionalProperties":false},"createdAt":1772355619000}]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma1350pt8hp54sz3wnxmj7', 1, 1, 'v1', 'a539db3be436c4fa359fd99c487b135c9257d7765e65dadb1f7416b43b9cafdd', 968, 1772355621000, '{"state":{"orderId":"A-1007","ticketId":null,"refund":null,"turns":1,"resolved":true},"history":[{"role":"user","content":"Where is my order A-1007?","turnId":"turn_02432d221fae7021ada183b2db622789","at":1772355621000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1007","status":"processing","amount":92,"etaDays":1}},"turnId":"turn_02432d221fae7021ada183b2db622789","at":1772355621000},{"role":"agent","content":{"text":"Your order A-1007 is processing. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1007","status":"processing"},"correct":true,"version":"v1"},"turnId":"turn_02432d221fae7021ada183b2db622789","at":1772355621000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Where is my order A-1007?"},{"role":"assistant","content":"Your order A-1007 is processing. Expected in 1 day(s)."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma1350pt8hp54sz3wnxmj7', 3, 1, 'v1', '6c930820f7c1822ed07098e9268868d89d012ea2666205921b8ffed198c685c0', 2378, 1772355623000, '{"state":{"orderId":"A-1007","ticketId":null,"refund":null,"turns":3,"resolved":true},"history":[{"role":"user","content":"Where is my order A-1007?","turnId":"turn_02432d221fae7021ada183b2db622789","at":1772355621000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1007","status":"processing","amount":92,"etaDays":1}},"turnId":"turn_02432d221fae7021ada183b2db622789","at":1772355621000},{"role":"agent","content":{"text":"Your order A-1007 is processing. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1007","status":"processing"},"correct":true,"version":"v1"},"turnId":"turn_02432d221fae7021ada183b2db622789","at":1772355621000},{"role":"user","content":"Can you check the status again?","turnId":"turn_267707e239b88fde5a6ef419b7930c05","at":1772355622000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1007","status":"processing","amount":92,"etaDays":1}},"turnId":"turn_267707e239b88fde5a6ef419b7930c05","at":1772355622000},{"role":"agent","content":{"text":"Your order A-1007 is processing. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1007","status":"processing"},"correct":true,"version":"v1"},"turnId":"turn_267707e239b88fde5a6ef419b7930c05","at":1772355622000},{"role":"user","content":"Thanks.","turnId":"turn_ff73a24683e3f370e578af87fa02bfbf","at":1772355623000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1007","status":"processing","amount":92,"etaDays":1}},"turnId":"turn_ff73a24683e3f370e578af87fa02bfbf","at":1772355623000},{"role":"agent","content":{"text":"Your order A-1007 is processing. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1007","status":"processing"},"correct":true,"version":"v1"},"turnId":"turn_ff73a24683e3f370e578af87fa02bfbf","at":1772355623000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Where is my order A-1007?"},{"role":"assistant","content":"Your order A-1007 is processing. Expected in 1 day(s)."},{"role":"user","content":"Can you check the status again?"},{"role":"assistant","content":"Your order A-1007 is processing. Expected in 1 day(s)."},{"role":"user","content":"Thanks."},{"role":"assistant","content":"Your order A-1007 is processing. Expected in 1 day(s)."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 3, 1, 'v1', 'afa56bb020463db0a474ac38e40ff8069c62d7428d7bb1483274d5dbabc6b465', 2146, 1772355628000, '{"state":{"orderId":"A-1000","ticketId":"TCK-bb8194e2","refund":null,"turns":3,"resolved":true},"history":[{"role":"user","content":"Hi there.","turnId":"turn_5af66700a53138609b6e929cbdc41392","at":1772355626000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_5af66700a53138609b6e929cbdc41392","at":1772355626000},{"role":"user","content":"Where is my order A-1000?","turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1000","status":"lost","amount":229,"etaDays":3}},"turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000},{"role":"agent","content":{"text":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open.","answer":{"kind":"status","orderId":"A-1000","status":"lost"},"correct":true,"version":"v1"},"turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000},{"role":"user","content":"I am angry, this is terrible.","turnId":"turn_a4a852097a5a829aee7507979ee02f63","at":1772355628000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1000","status":"lost","amount":229,"etaDays":3}},"turnId":"turn_a4a852097a5a829aee7507979ee02f63","at":1772355628000},{"role":"agent","content":{"text":"Your order A-1000 is delivered. Ticket TCK-bb8194e2 is open.","answer":{"kind":"status","orderId":"A-1000","status":"delivered"},"correct":false,"version":"v1"},"turnId":"turn_a4a852097a5a829aee7507979ee02f63","at":1772355628000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1000?"},{"role":"assistant","content":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open."},{"role":"user","content":"I am angry, this is terrible."},{"role":"assistant","content":"Your order A-1000 is delivered. Ticket TCK-bb8194e2 is open."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 2, 1, 'v1', 'e080e6703e153f02ae4cfd6508e22ad8130edb9db4f2f78360706a962bb587f2', 1415, 1772355627000, '{"state":{"orderId":"A-1000","ticketId":"TCK-bb8194e2","refund":null,"turns":2,"resolved":false},"history":[{"role":"user","content":"Hi there.","turnId":"turn_5af66700a53138609b6e929cbdc41392","at":1772355626000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_5af66700a53138609b6e929cbdc41392","at":1772355626000},{"role":"user","content":"Where is my order A-1000?","turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1000","status":"lost","amount":229,"etaDays":3}},"turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000},{"role":"agent","content":{"text":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open.","answer":{"kind":"status","orderId":"A-1000","status":"lost"},"correct":true,"version":"v1"},"turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000}],"context":{"format":"v1","system":"You are a support agent for an online shop. Look up the order before answering. Be concise.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1000?"},{"role":"assistant","content":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open."}]},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 4, 2, 'v2', '7d9f23a4995bf80a616f3d4e268a53b5992457765d45348e5a51e18cafbef47d', 2344, 1772355629000, '{"state":{"orders":["A-1000"],"sentiment":"negative","ticketId":"TCK-bb8194e2","refund":null,"turns":3,"resolved":true},"history":[{"role":"user","content":"Hi there.","turnId":"turn_5af66700a53138609b6e929cbdc41392","at":1772355626000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_5af66700a53138609b6e929cbdc41392","at":1772355626000},{"role":"user","content":"Where is my order A-1000?","turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1000","status":"lost","amount":229,"etaDays":3}},"turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000},{"role":"agent","content":{"text":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open.","answer":{"kind":"status","orderId":"A-1000","status":"lost"},"correct":true,"version":"v1"},"turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000},{"role":"user","content":"I am angry, this is terrible.","turnId":"turn_a4a852097a5a829aee7507979ee02f63","at":1772355628000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1000","status":"lost","amount":229,"etaDays":3}},"turnId":"turn_a4a852097a5a829aee7507979ee02f63","at":1772355628000},{"role":"agent","content":{"text":"Your order A-1000 is delivered. Ticket TCK-bb8194e2 is open.","answer":{"kind":"status","orderId":"A-1000","status":"delivered"},"correct":false,"version":"v1"},"turnId":"turn_a4a852097a5a829aee7507979ee02f63","at":1772355628000}],"context":{"format":"v2","system":"You are a friendly support agent for an online shop. Always look up the order, state its status and delivery estimate, and acknowledge the customer’s feelings. Refunds above $100 need approval.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1000?"},{"role":"assistant","content":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open."},{"role":"user","content":"I am angry, this is terrible."},{"role":"assistant","content":"Your order A-1000 is delivered. Ticket TCK-bb8194e2 is open."}],"summary":"orders: A-1000; sentiment: negative; ticket: TCK-bb8194e2"},"waits":[]}');
INSERT INTO baton_golden_v1.checkpoints VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 5, 2, 'v2', '4d395fc1904e7f772c02b6998fe34f5fd143fa886eb5f3aff0ec5e6461f88eed', 3065, 1772355630000, '{"state":{"orders":["A-1000"],"sentiment":"negative","ticketId":"TCK-bb8194e2","refund":null,"turns":4,"resolved":false},"history":[{"role":"user","content":"Hi there.","turnId":"turn_5af66700a53138609b6e929cbdc41392","at":1772355626000},{"role":"agent","content":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"turnId":"turn_5af66700a53138609b6e929cbdc41392","at":1772355626000},{"role":"user","content":"Where is my order A-1000?","turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1000","status":"lost","amount":229,"etaDays":3}},"turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000},{"role":"agent","content":{"text":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open.","answer":{"kind":"status","orderId":"A-1000","status":"lost"},"correct":true,"version":"v1"},"turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","at":1772355627000},{"role":"user","content":"I am angry, this is terrible.","turnId":"turn_a4a852097a5a829aee7507979ee02f63","at":1772355628000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1000","status":"lost","amount":229,"etaDays":3}},"turnId":"turn_a4a852097a5a829aee7507979ee02f63","at":1772355628000},{"role":"agent","content":{"text":"Your order A-1000 is delivered. Ticket TCK-bb8194e2 is open.","answer":{"kind":"status","orderId":"A-1000","status":"delivered"},"correct":false,"version":"v1"},"turnId":"turn_a4a852097a5a829aee7507979ee02f63","at":1772355628000},{"role":"user","content":"Can you check the status again?","turnId":"turn_a7fd5aa790255668a97c30df7770f5a7","at":1772355630000},{"role":"tool","content":{"tool":"lookup_order","result":{"orderId":"A-1000","status":"lost","amount":229,"etaDays":3}},"turnId":"turn_a7fd5aa790255668a97c30df7770f5a7","at":1772355630000},{"role":"agent","content":{"text":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open.","answer":{"kind":"status","orderId":"A-1000","status":"lost"},"correct":true,"version":"v2"},"turnId":"turn_a7fd5aa790255668a97c30df7770f5a7","at":1772355630000}],"context":{"format":"v2","system":"You are a friendly support agent for an online shop. Always look up the order, state its status and delivery estimate, and acknowledge the customer’s feelings. Refunds above $100 need approval.","messages":[{"role":"user","content":"Hi there."},{"role":"assistant","content":"Could you give me your order number? It looks like A-1234."},{"role":"user","content":"Where is my order A-1000?"},{"role":"assistant","content":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open."},{"role":"user","content":"I am angry, this is terrible."},{"role":"assistant","content":"Your order A-1000 is delivered. Ticket TCK-bb8194e2 is open."},{"role":"user","content":"Can you check the status again?"},{"role":"assistant","content":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open."}],"summary":"orders: A-1000; sentiment: negative; ticket: TCK-bb8194e2"},"waits":[]}');


--
-- Data for Name: decisions; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--



--
-- Data for Name: effects; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.effects VALUES ('e_01kjma0jhrbgv0556g3frcfskd', 'ses_01kjma0gk87we5kdgpns1x3zpg:turn_a4a6124a2a1bf2c08f75b537eb8804ad:0', 'ses_01kjma0gk87we5kdgpns1x3zpg', 'support', 'v1', NULL, 'turn_a4a6124a2a1bf2c08f75b537eb8804ad', 'create_ticket', '{"orderId":"A-1003","reason":"delayed","customer":"customer-ses_01kjma0gk87we5kdgpns1x3zpg@example.com"}', 'committed', '{"ticketId":"TCK-d06ae871"}', NULL, 'cancel_ticket', NULL, 1772355603000, 1772355603000);
INSERT INTO baton_golden_v1.effects VALUES ('e_01kjma0jhrnpvd51tks3egey3j', 'ses_01kjma0gk87we5kdgpns1x3zpg:turn_a4a6124a2a1bf2c08f75b537eb8804ad:1', 'ses_01kjma0gk87we5kdgpns1x3zpg', 'support', 'v1', NULL, 'turn_a4a6124a2a1bf2c08f75b537eb8804ad', 'send_email', '{"to":"customer-ses_01kjma0gk87we5kdgpns1x3zpg@example.com","template":"order_issue","orderId":"A-1003","ticketId":"TCK-d06ae871"}', 'committed', '{"messageId":"MSG-d5d64632"}', NULL, 'send_correction_email', NULL, 1772355603000, 1772355603000);
INSERT INTO baton_golden_v1.effects VALUES ('e_01kjma0rd8t7g3ywdrtxf612wd', 'ses_01kjma0nfgywz9mws7rqfrq08d:turn_3be3114c0c44d0dc29d91973e8eecb6e:0', 'ses_01kjma0nfgywz9mws7rqfrq08d', 'support', 'v1', NULL, 'turn_3be3114c0c44d0dc29d91973e8eecb6e', 'create_ticket', '{"orderId":"A-1002","reason":"refund","customer":"customer-ses_01kjma0nfgywz9mws7rqfrq08d@example.com"}', 'committed', '{"ticketId":"TCK-64986838"}', NULL, 'cancel_ticket', NULL, 1772355609000, 1772355609000);
INSERT INTO baton_golden_v1.effects VALUES ('e_01kjma0rd8g10m167yvsb0nbt1', 'ses_01kjma0nfgywz9mws7rqfrq08d:turn_3be3114c0c44d0dc29d91973e8eecb6e:1', 'ses_01kjma0nfgywz9mws7rqfrq08d', 'support', 'v1', NULL, 'turn_3be3114c0c44d0dc29d91973e8eecb6e', 'send_email', '{"to":"customer-ses_01kjma0nfgywz9mws7rqfrq08d@example.com","template":"refund_issued","orderId":"A-1002","amount":88}', 'committed', '{"messageId":"MSG-28119253"}', NULL, 'send_correction_email', NULL, 1772355609000, 1772355609000);
INSERT INTO baton_golden_v1.effects VALUES ('e_01kjma125rbhxd3wyqe1a7mt79', 'ses_01kjma1078pwnbdg5h46zsv62p:turn_3801c865d1eb8c257fddcb565cc1bdc5:0', 'ses_01kjma1078pwnbdg5h46zsv62p', 'support', 'v1', NULL, 'turn_3801c865d1eb8c257fddcb565cc1bdc5', 'create_ticket', '{"orderId":"A-1012","reason":"refund","customer":"customer-ses_01kjma1078pwnbdg5h46zsv62p@example.com"}', 'committed', '{"ticketId":"TCK-89aaaf12"}', NULL, 'cancel_ticket', NULL, 1772355619000, 1772355619000);
INSERT INTO baton_golden_v1.effects VALUES ('e_01kjma19zrjk505wzm1tzaqmqa', 'ses_01kjma18181gkwy7sw033j9kw7:turn_35860e62e8fcaaf298815e12ac36d20f:0', 'ses_01kjma18181gkwy7sw033j9kw7', 'support', 'v1', NULL, 'turn_35860e62e8fcaaf298815e12ac36d20f', 'create_ticket', '{"orderId":"A-1000","reason":"lost","customer":"customer-ses_01kjma18181gkwy7sw033j9kw7@example.com"}', 'committed', '{"ticketId":"TCK-bb8194e2"}', NULL, 'cancel_ticket', NULL, 1772355627000, 1772355627000);
INSERT INTO baton_golden_v1.effects VALUES ('e_01kjma19zredsmvjcgmjxcg1mc', 'ses_01kjma18181gkwy7sw033j9kw7:turn_35860e62e8fcaaf298815e12ac36d20f:1', 'ses_01kjma18181gkwy7sw033j9kw7', 'support', 'v1', NULL, 'turn_35860e62e8fcaaf298815e12ac36d20f', 'send_email', '{"to":"customer-ses_01kjma18181gkwy7sw033j9kw7@example.com","template":"order_issue","orderId":"A-1000","ticketId":"TCK-bb8194e2"}', 'committed', '{"messageId":"MSG-7990fd73"}', NULL, 'send_correction_email', NULL, 1772355627000, 1772355627000);


--
-- Data for Name: locks; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--



--
-- Data for Name: migrations; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.migrations VALUES (1, 'ses_01kjma18181gkwy7sw033j9kw7', 4, 'v1', 'v2', 1, 2, 'rebuild', NULL, 'ok', NULL, 1772355629000);


--
-- Data for Name: rollouts; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--



--
-- Data for Name: routes; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.routes VALUES ('support', 'v1', NULL, 0, NULL, NULL, 1772355600000);


--
-- Data for Name: session_aggregates; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.session_aggregates VALUES ('ses_01kjma0gk87we5kdgpns1x3zpg', 'v1', 'support', 1772355601000, 1772355602000, 1772355605000, 4, 0, 5, '{"send_email": 1, "lookup_order": 3, "create_ticket": 1}', 7, 714, 226, 0, 0, 0.0206298828125, '{"eval.resolution": {"sum": 3, "count": 3}}', '{"clarification": 1}', false);
INSERT INTO baton_golden_v1.session_aggregates VALUES ('ses_01kjma0nfgywz9mws7rqfrq08d', 'v1', 'support', 1772355606000, 1772355607000, 1772355610000, 4, 0, 5, '{"send_email": 1, "lookup_order": 3, "create_ticket": 1}', 9, 677, 261, 0, 0, 0.017333984375, '{"eval.resolution": {"sum": 3, "count": 3}}', '{"clarification": 1}', false);
INSERT INTO baton_golden_v1.session_aggregates VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 'v1', 'support', 1772355611000, 1772355612000, 1772355616000, 5, 0, 4, '{"lookup_order": 4}', 11, 952, 340, 0, 0, 0.0213623046875, '{"eval.resolution": {"sum": 4, "count": 4}}', '{"clarification": 1}', false);
INSERT INTO baton_golden_v1.session_aggregates VALUES ('ses_01kjma1078pwnbdg5h46zsv62p', 'v1', 'support', 1772355617000, 1772355618000, 1772355619000, 2, 0, 2, '{"lookup_order": 1, "create_ticket": 1}', 4, 224, 60, 0, 0, 0.0098876953125, '{"eval.resolution": {"sum": 1, "count": 1}}', '{"clarification": 1}', false);
INSERT INTO baton_golden_v1.session_aggregates VALUES ('ses_01kjma1350pt8hp54sz3wnxmj7', 'v1', 'support', 1772355620000, 1772355621000, 1772355623000, 3, 0, 3, '{"lookup_order": 3}', 3, 546, 253, 0, 0, 0.0140380859375, '{"eval.resolution": {"sum": 3, "count": 3}}', '{}', true);
INSERT INTO baton_golden_v1.session_aggregates VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 'v1', 'support', 1772355625000, 1772355626000, 1772355628000, 3, 0, 4, '{"send_email": 1, "lookup_order": 2, "create_ticket": 1}', 7, 438, 108, 0, 0, 0.01416015625, '{"eval.resolution": {"sum": 1, "count": 2}}', '{"clarification": 1}', false);
INSERT INTO baton_golden_v1.session_aggregates VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 'v2', 'support', 1772355625000, 1772355630000, 1772355630000, 1, 0, 1, '{"lookup_order":1}', 1, 297, 70, 0, 0, 0.0240478515625, '{"eval.resolution":{"sum":1,"count":1}}', '{}', false);


--
-- Data for Name: sessions; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.sessions VALUES ('ses_01kjma0gk87we5kdgpns1x3zpg', 'support', NULL, 'v1', 'idle', 4, '443d29032bb0712a4017d3be61cbbe09ab3793f1df462782b85813cf0e9a7271', NULL, NULL, NULL, 1772355601000, 1772355605000, '{}');
INSERT INTO baton_golden_v1.sessions VALUES ('ses_01kjma1350pt8hp54sz3wnxmj7', 'support', NULL, 'v1', 'completed', 3, 'f1f4e49ced064ea05339266b591417b5ff5f70f34b33bf571a65850fcaa73ed2', NULL, NULL, NULL, 1772355620000, 1772355624000, '{}');
INSERT INTO baton_golden_v1.sessions VALUES ('ses_01kjma0nfgywz9mws7rqfrq08d', 'support', NULL, 'v1', 'idle', 4, '47da9c96c094c7c4beb46617a5464be11d098d4a749e1b3538ce02855a8bc6a3', NULL, NULL, NULL, 1772355606000, 1772355610000, '{}');
INSERT INTO baton_golden_v1.sessions VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 'support', NULL, 'v2', 'idle', 5, '0be2ebef4348df91077d383b4917403aaaa8b680930e6bf3160ad9704ea3ec00', NULL, NULL, NULL, 1772355625000, 1772355630000, '{}');
INSERT INTO baton_golden_v1.sessions VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 'support', NULL, 'v1', 'idle', 5, '9aec03ca4a97b1f9eb9e441ef610935837f99077982fcfbc8156b03087cd3028', NULL, NULL, NULL, 1772355611000, 1772355616000, '{}');
INSERT INTO baton_golden_v1.sessions VALUES ('ses_01kjma1078pwnbdg5h46zsv62p', 'support', NULL, 'v1', 'waiting', 2, 'd3e348c681867d60f076e7c678aedec779facd119e62eca53787209c5378c859', NULL, NULL, NULL, 1772355617000, 1772355619000, '{}');


--
-- Data for Name: steps; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--



--
-- Data for Name: turn_results; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0gk87we5kdgpns1x3zpg', 'status-delayed-t1', '{"turnId":"turn_e02c5a0cb07e1848498d1f70d89cb05f","output":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"version":"v1","seq":1,"status":"idle","waits":[]}', 1772355602000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0gk87we5kdgpns1x3zpg', 'status-delayed-t2', '{"turnId":"turn_a4a6124a2a1bf2c08f75b537eb8804ad","output":{"text":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open.","answer":{"kind":"status","orderId":"A-1003","status":"delayed"},"correct":true,"version":"v1"},"version":"v1","seq":2,"status":"idle","waits":[]}', 1772355603000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0gk87we5kdgpns1x3zpg', 'status-delayed-t3', '{"turnId":"turn_e6dcdb98570e9750a6bbd4ddf904bc07","output":{"text":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open.","answer":{"kind":"status","orderId":"A-1003","status":"delayed"},"correct":true,"version":"v1"},"version":"v1","seq":3,"status":"idle","waits":[]}', 1772355604000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0gk87we5kdgpns1x3zpg', 'status-delayed-t4', '{"turnId":"turn_5e87c96daa25cdb0b98a7f7697df65eb","output":{"text":"Your order A-1003 is delayed. Expected in 4 day(s). Ticket TCK-d06ae871 is open.","answer":{"kind":"status","orderId":"A-1003","status":"delayed"},"correct":true,"version":"v1"},"version":"v1","seq":4,"status":"idle","waits":[]}', 1772355605000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0nfgywz9mws7rqfrq08d', 'small-refund-t1', '{"turnId":"turn_3a6efe7d3930a0a50d7e5d6dd0b33f48","output":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"version":"v1","seq":1,"status":"idle","waits":[]}', 1772355607000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0nfgywz9mws7rqfrq08d', 'small-refund-t2', '{"turnId":"turn_fa770c9d2d3f0bdc5eea39d2166e6a95","output":{"text":"Your order A-1002 is shipped. Expected in 4 day(s).","answer":{"kind":"status","orderId":"A-1002","status":"shipped"},"correct":true,"version":"v1"},"version":"v1","seq":2,"status":"idle","waits":[]}', 1772355608000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0nfgywz9mws7rqfrq08d', 'small-refund-t3', '{"turnId":"turn_3be3114c0c44d0dc29d91973e8eecb6e","output":{"text":"I refunded $88 for order A-1002.","answer":{"kind":"refund","orderId":"A-1002","amount":88},"correct":true,"version":"v1"},"version":"v1","seq":3,"status":"idle","waits":[]}', 1772355609000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0nfgywz9mws7rqfrq08d', 'small-refund-t4', '{"turnId":"turn_53e45a5682e978baecfb96ac74574f7c","output":{"text":"Your order A-1002 is shipped. Expected in 4 day(s). Ticket TCK-64986838 is open.","answer":{"kind":"status","orderId":"A-1002","status":"shipped"},"correct":true,"version":"v1"},"version":"v1","seq":4,"status":"idle","waits":[]}', 1772355610000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 'two-orders-t1', '{"turnId":"turn_f9f904690ace5b72b85f6a984c398a0c","output":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"version":"v1","seq":1,"status":"idle","waits":[]}', 1772355612000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 'two-orders-t2', '{"turnId":"turn_07a5f8d80c11072400a5fca526e6ffee","output":{"text":"Your order A-1005 is delivered.","answer":{"kind":"status","orderId":"A-1005","status":"delivered"},"correct":true,"version":"v1"},"version":"v1","seq":2,"status":"idle","waits":[]}', 1772355613000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 'two-orders-t3', '{"turnId":"turn_c47acfd95cd4fe324286dca878d0f13e","output":{"text":"Your order A-1006 is shipped. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1006","status":"shipped"},"correct":true,"version":"v1"},"version":"v1","seq":3,"status":"idle","waits":[]}', 1772355614000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 'two-orders-t4', '{"turnId":"turn_25479026bcb377ac8e10a5b772eab178","output":{"text":"Your order A-1005 is delivered.","answer":{"kind":"status","orderId":"A-1005","status":"delivered"},"correct":true,"version":"v1"},"version":"v1","seq":4,"status":"idle","waits":[]}', 1772355615000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma0tbrxkzyh895tt04gtv7', 'two-orders-t5', '{"turnId":"turn_12decbd6c19c68a929c0cf335b1824f6","output":{"text":"Your order A-1005 is delivered.","answer":{"kind":"status","orderId":"A-1005","status":"delivered"},"correct":true,"version":"v1"},"version":"v1","seq":5,"status":"idle","waits":[]}', 1772355616000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma1078pwnbdg5h46zsv62p', 'waiting-approval-t1', '{"turnId":"turn_aea5bd9fb580b488d51ac741eaa8c729","output":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"version":"v1","seq":1,"status":"idle","waits":[]}', 1772355618000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma1078pwnbdg5h46zsv62p', 'waiting-approval-t2', '{"turnId":"turn_3801c865d1eb8c257fddcb565cc1bdc5","output":{"text":"A refund of $165 for order A-1012 needs a manager''s approval; I''ll let you know.","answer":{"kind":"refund","orderId":"A-1012","amount":165},"correct":true,"version":"v1"},"version":"v1","seq":2,"status":"waiting","waits":[{"token":"iByZS5lPucBcQG2d0Shh45rG5L3BPHu2","name":"approval","deadline":1772442019000,"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"approved":{"type":"boolean"},"by":{"type":"string","minLength":1}},"required":["approved","by"],"additionalProperties":false}}]}', 1772355619000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma1350pt8hp54sz3wnxmj7', 'ended-t1', '{"turnId":"turn_02432d221fae7021ada183b2db622789","output":{"text":"Your order A-1007 is processing. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1007","status":"processing"},"correct":true,"version":"v1"},"version":"v1","seq":1,"status":"idle","waits":[]}', 1772355621000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma1350pt8hp54sz3wnxmj7', 'ended-t2', '{"turnId":"turn_267707e239b88fde5a6ef419b7930c05","output":{"text":"Your order A-1007 is processing. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1007","status":"processing"},"correct":true,"version":"v1"},"version":"v1","seq":2,"status":"idle","waits":[]}', 1772355622000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma1350pt8hp54sz3wnxmj7', 'ended-t3', '{"turnId":"turn_ff73a24683e3f370e578af87fa02bfbf","output":{"text":"Your order A-1007 is processing. Expected in 1 day(s).","answer":{"kind":"status","orderId":"A-1007","status":"processing"},"correct":true,"version":"v1"},"version":"v1","seq":3,"status":"idle","waits":[]}', 1772355623000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 'migrated-t1', '{"turnId":"turn_5af66700a53138609b6e929cbdc41392","output":{"text":"Could you give me your order number? It looks like A-1234.","answer":null,"correct":null,"version":"v1"},"version":"v1","seq":1,"status":"idle","waits":[]}', 1772355626000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 'migrated-t2', '{"turnId":"turn_35860e62e8fcaaf298815e12ac36d20f","output":{"text":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open.","answer":{"kind":"status","orderId":"A-1000","status":"lost"},"correct":true,"version":"v1"},"version":"v1","seq":2,"status":"idle","waits":[]}', 1772355627000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 'migrated-t3', '{"turnId":"turn_a4a852097a5a829aee7507979ee02f63","output":{"text":"Your order A-1000 is delivered. Ticket TCK-bb8194e2 is open.","answer":{"kind":"status","orderId":"A-1000","status":"delivered"},"correct":false,"version":"v1"},"version":"v1","seq":3,"status":"idle","waits":[]}', 1772355628000);
INSERT INTO baton_golden_v1.turn_results VALUES ('ses_01kjma18181gkwy7sw033j9kw7', 'migrated-t4', '{"turnId":"turn_a7fd5aa790255668a97c30df7770f5a7","output":{"text":"Your order A-1000 is lost. Ticket TCK-bb8194e2 is open.","answer":{"kind":"status","orderId":"A-1000","status":"lost"},"correct":true,"version":"v2"},"version":"v2","seq":5,"status":"idle","waits":[]}', 1772355630000);


--
-- Data for Name: turn_telemetry; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.turn_telemetry VALUES (1, 'ses_01kjma0gk87we5kdgpns1x3zpg', 'support', 'v1', 'turn_e02c5a0cb07e1848498d1f70d89cb05f', 1, 1772355602000, 0, '{}', 1, 43, 20, 0.0052490234375, '{}', '["clarification"]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (2, 'ses_01kjma0gk87we5kdgpns1x3zpg', 'support', 'v1', 'turn_a4a6124a2a1bf2c08f75b537eb8804ad', 2, 1772355603000, 0, '{"lookup_order":1,"create_ticket":1,"send_email":1}', 1, 179, 64, 0.0096435546875, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (3, 'ses_01kjma0gk87we5kdgpns1x3zpg', 'support', 'v1', 'turn_e6dcdb98570e9750a6bbd4ddf904bc07', 3, 1772355604000, 0, '{"lookup_order":1}', 2, 223, 56, 0.0150146484375, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (4, 'ses_01kjma0gk87we5kdgpns1x3zpg', 'support', 'v1', 'turn_5e87c96daa25cdb0b98a7f7697df65eb', 4, 1772355605000, 0, '{"lookup_order":1}', 3, 269, 86, 0.0206298828125, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (5, 'ses_01kjma0nfgywz9mws7rqfrq08d', 'support', 'v1', 'turn_3a6efe7d3930a0a50d7e5d6dd0b33f48', 1, 1772355607000, 0, '{}', 1, 42, 20, 0.005126953125, '{}', '["clarification"]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (6, 'ses_01kjma0nfgywz9mws7rqfrq08d', 'support', 'v1', 'turn_fa770c9d2d3f0bdc5eea39d2166e6a95', 2, 1772355608000, 0, '{"lookup_order":1}', 2, 178, 116, 0.009521484375, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (7, 'ses_01kjma0nfgywz9mws7rqfrq08d', 'support', 'v1', 'turn_3be3114c0c44d0dc29d91973e8eecb6e', 3, 1772355609000, 0, '{"lookup_order":1,"create_ticket":1,"send_email":1}', 3, 215, 48, 0.0140380859375, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (8, 'ses_01kjma0nfgywz9mws7rqfrq08d', 'support', 'v1', 'turn_53e45a5682e978baecfb96ac74574f7c', 4, 1772355610000, 0, '{"lookup_order":1}', 3, 242, 77, 0.017333984375, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (9, 'ses_01kjma0tbrxkzyh895tt04gtv7', 'support', 'v1', 'turn_f9f904690ace5b72b85f6a984c398a0c', 1, 1772355612000, 0, '{}', 1, 43, 20, 0.0052490234375, '{}', '["clarification"]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (10, 'ses_01kjma0tbrxkzyh895tt04gtv7', 'support', 'v1', 'turn_07a5f8d80c11072400a5fca526e6ffee', 2, 1772355613000, 0, '{"lookup_order":1}', 2, 179, 81, 0.0096435546875, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (11, 'ses_01kjma0tbrxkzyh895tt04gtv7', 'support', 'v1', 'turn_c47acfd95cd4fe324286dca878d0f13e', 3, 1772355614000, 0, '{"lookup_order":1}', 3, 210, 88, 0.013427734375, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (12, 'ses_01kjma0tbrxkzyh895tt04gtv7', 'support', 'v1', 'turn_25479026bcb377ac8e10a5b772eab178', 4, 1772355615000, 0, '{"lookup_order":1}', 2, 245, 76, 0.0177001953125, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (13, 'ses_01kjma0tbrxkzyh895tt04gtv7', 'support', 'v1', 'turn_12decbd6c19c68a929c0cf335b1824f6', 5, 1772355616000, 0, '{"lookup_order":1}', 3, 275, 75, 0.0213623046875, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (14, 'ses_01kjma1078pwnbdg5h46zsv62p', 'support', 'v1', 'turn_aea5bd9fb580b488d51ac741eaa8c729', 1, 1772355618000, 0, '{}', 1, 43, 20, 0.0052490234375, '{}', '["clarification"]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (15, 'ses_01kjma1078pwnbdg5h46zsv62p', 'support', 'v1', 'turn_3801c865d1eb8c257fddcb565cc1bdc5', 2, 1772355619000, 0, '{"lookup_order":1,"create_ticket":1}', 3, 181, 40, 0.0098876953125, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (16, 'ses_01kjma1350pt8hp54sz3wnxmj7', 'support', 'v1', 'turn_02432d221fae7021ada183b2db622789', 1, 1772355621000, 0, '{"lookup_order":1}', 1, 147, 112, 0.0057373046875, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (17, 'ses_01kjma1350pt8hp54sz3wnxmj7', 'support', 'v1', 'turn_267707e239b88fde5a6ef419b7930c05', 2, 1772355622000, 0, '{"lookup_order":1}', 1, 184, 65, 0.01025390625, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (18, 'ses_01kjma1350pt8hp54sz3wnxmj7', 'support', 'v1', 'turn_ff73a24683e3f370e578af87fa02bfbf', 3, 1772355623000, 0, '{"lookup_order":1}', 1, 215, 76, 0.0140380859375, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (19, 'ses_01kjma18181gkwy7sw033j9kw7', 'support', 'v1', 'turn_5af66700a53138609b6e929cbdc41392', 1, 1772355626000, 0, '{}', 1, 43, 20, 0.0052490234375, '{}', '["clarification"]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (20, 'ses_01kjma18181gkwy7sw033j9kw7', 'support', 'v1', 'turn_35860e62e8fcaaf298815e12ac36d20f', 2, 1772355627000, 0, '{"lookup_order":1,"create_ticket":1,"send_email":1}', 3, 179, 44, 0.0096435546875, '{"eval.resolution":1}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (21, 'ses_01kjma18181gkwy7sw033j9kw7', 'support', 'v1', 'turn_a4a852097a5a829aee7507979ee02f63', 3, 1772355628000, 0, '{"lookup_order":1}', 3, 216, 44, 0.01416015625, '{"eval.resolution":0}', '[]', NULL);
INSERT INTO baton_golden_v1.turn_telemetry VALUES (22, 'ses_01kjma18181gkwy7sw033j9kw7', 'support', 'v2', 'turn_a7fd5aa790255668a97c30df7770f5a7', 5, 1772355630000, 0, '{"lookup_order":1}', 1, 297, 70, 0.0240478515625, '{"eval.resolution":1}', '[]', NULL);


--
-- Data for Name: versions; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.versions VALUES ('support', 'v1', 1, 'sim-support-1', '272b1b0b8f021532bd9749ee3353d5100d36f7aa4f27f8cbc06642c3207c71d5', 'bbdc15a66b30c83ebea025b731612c1cc8edd8a036daddf441d3115164d01edf', '092d99ec8f0a7df4083921082979505c5746b09c184c01b5f361f03c2e25f9c7', '5a5031b3f466ce6d3293e2bebf146c39494d34b22adceb25c16dc097a4b10b9a', '[]', '[]', 1772355600000, '{}');
INSERT INTO baton_golden_v1.versions VALUES ('support', 'v2', 2, 'sim-support-2', '8c1ffe351e8d7246a48377a6fa949c51a3ff07415706398058f7c29264aa39aa', 'bbdc15a66b30c83ebea025b731612c1cc8edd8a036daddf441d3115164d01edf', '95bd9931769d1203b0a2a6158232e190625a6e05bf78d24cf9fe96f169fdc6e3', 'b78616ffbac49882407778fba7b9558b30843a4d99451ff148843b2d0b294d39', '[1]', '[1]', 1772355600000, '{}');


--
-- Data for Name: waits; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.waits VALUES ('iByZS5lPucBcQG2d0Shh45rG5L3BPHu2', 'ses_01kjma1078pwnbdg5h46zsv62p', 'approval', 1772442019000, '{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"approved":{"type":"boolean"},"by":{"type":"string","minLength":1}},"required":["approved","by"],"additionalProperties":false}', 1772355619000, 'pending');


--
-- Data for Name: workers; Type: TABLE DATA; Schema: baton_golden_v1; Owner: -
--

INSERT INTO baton_golden_v1.workers VALUES ('wrk_01kjma0fm0fxj3crkv6h2r2xqm', 'support', 'v1', NULL, 'healthy', 1772355600000, 1772355600000);
INSERT INTO baton_golden_v1.workers VALUES ('wrk_01kjma0fm09f27h98kmwdrv9v1', 'support', 'v2', NULL, 'healthy', 1772355600000, 1772355600000);


--
-- Name: migrations_id_seq; Type: SEQUENCE SET; Schema: baton_golden_v1; Owner: -
--

SELECT pg_catalog.setval('baton_golden_v1.migrations_id_seq', 1, true);


--
-- Name: turn_telemetry_id_seq; Type: SEQUENCE SET; Schema: baton_golden_v1; Owner: -
--

SELECT pg_catalog.setval('baton_golden_v1.turn_telemetry_id_seq', 22, true);


--
-- Name: baton_schema_migrations baton_schema_migrations_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.baton_schema_migrations
    ADD CONSTRAINT baton_schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: checkpoints checkpoints_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.checkpoints
    ADD CONSTRAINT checkpoints_pkey PRIMARY KEY (session_id, seq);


--
-- Name: decisions decisions_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.decisions
    ADD CONSTRAINT decisions_pkey PRIMARY KEY (rollout_id, seq);


--
-- Name: effects effects_idempotency_key_key; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.effects
    ADD CONSTRAINT effects_idempotency_key_key UNIQUE (idempotency_key);


--
-- Name: effects effects_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.effects
    ADD CONSTRAINT effects_pkey PRIMARY KEY (id);


--
-- Name: locks locks_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.locks
    ADD CONSTRAINT locks_pkey PRIMARY KEY (name);


--
-- Name: migrations migrations_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.migrations
    ADD CONSTRAINT migrations_pkey PRIMARY KEY (id);


--
-- Name: rollouts rollouts_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.rollouts
    ADD CONSTRAINT rollouts_pkey PRIMARY KEY (id);


--
-- Name: routes routes_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.routes
    ADD CONSTRAINT routes_pkey PRIMARY KEY (agent);


--
-- Name: session_aggregates session_aggregates_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.session_aggregates
    ADD CONSTRAINT session_aggregates_pkey PRIMARY KEY (session_id, version);


--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);


--
-- Name: steps steps_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.steps
    ADD CONSTRAINT steps_pkey PRIMARY KEY (session_id, turn_id, idx);


--
-- Name: turn_results turn_results_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.turn_results
    ADD CONSTRAINT turn_results_pkey PRIMARY KEY (session_id, key);


--
-- Name: turn_telemetry turn_telemetry_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.turn_telemetry
    ADD CONSTRAINT turn_telemetry_pkey PRIMARY KEY (id);


--
-- Name: versions versions_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.versions
    ADD CONSTRAINT versions_pkey PRIMARY KEY (agent, label);


--
-- Name: waits waits_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.waits
    ADD CONSTRAINT waits_pkey PRIMARY KEY (token);


--
-- Name: workers workers_pkey; Type: CONSTRAINT; Schema: baton_golden_v1; Owner: -
--

ALTER TABLE ONLY baton_golden_v1.workers
    ADD CONSTRAINT workers_pkey PRIMARY KEY (id);


--
-- Name: effects_agent_version; Type: INDEX; Schema: baton_golden_v1; Owner: -
--

CREATE INDEX effects_agent_version ON baton_golden_v1.effects USING btree (agent, version);


--
-- Name: effects_rollout; Type: INDEX; Schema: baton_golden_v1; Owner: -
--

CREATE INDEX effects_rollout ON baton_golden_v1.effects USING btree (rollout_id);


--
-- Name: effects_session; Type: INDEX; Schema: baton_golden_v1; Owner: -
--

CREATE INDEX effects_session ON baton_golden_v1.effects USING btree (session_id);


--
-- Name: migrations_rollout; Type: INDEX; Schema: baton_golden_v1; Owner: -
--

CREATE INDEX migrations_rollout ON baton_golden_v1.migrations USING btree (rollout_id);


--
-- Name: migrations_session; Type: INDEX; Schema: baton_golden_v1; Owner: -
--

CREATE INDEX migrations_session ON baton_golden_v1.migrations USING btree (session_id);


--
-- Name: rollouts_agent; Type: INDEX; Schema: baton_golden_v1; Owner: -
--

CREATE INDEX rollouts_agent ON baton_golden_v1.rollouts USING btree (agent);


--
-- Name: session_aggregates_cohort; Type: INDEX; Schema: baton_golden_v1; Owner: -
--

CREATE INDEX session_aggregates_cohort ON baton_golden_v1.session_aggregates USING btree (agent, version, session_started_at);


--
-- Name: sessions_agent_version_status; Type: INDEX; Schema: baton_golden_v1; Owner: -
--

CREATE INDEX sessions_agent_version_status ON baton_golden_v1.sessions USING btree (agent, version, status);


--
-- Name: turn_telemetry_agent_version_at; Type: INDEX; Schema: baton_golden_v1; Owner: -
--

CREATE INDEX turn_telemetry_agent_version_at ON baton_golden_v1.turn_telemetry USING btree (agent, version, at);


--
-- Name: waits_due; Type: INDEX; Schema: baton_golden_v1; Owner: -
--

CREATE INDEX waits_due ON baton_golden_v1.waits USING btree (status, deadline);


--
-- Name: waits_session; Type: INDEX; Schema: baton_golden_v1; Owner: -
--

CREATE INDEX waits_session ON baton_golden_v1.waits USING btree (session_id, status);


--
-- PostgreSQL database dump complete
--

\unrestrict QGbceNeZcqsXJDDV9n7bbDcGhGntOwgArvMXesgTPHYtD4lEeH7BXa4W5NoVyZU

