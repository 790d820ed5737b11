-- The PostgreSQL double-entry ledger that scripts/bench.sh measures beside
-- ClearLedger: accounts with posted balances (integer minor units), journal
-- entries with an idempotency key, two postings per transfer, and the two
-- server-side functions of shapes (b) and (c). Run with
--   psql -v ON_ERROR_STOP=1 -v accounts=10000 -f pg-schema.sql
-- Accounts 1..:accounts are customer accounts (liability, no overdraft)
-- funded with 1,000,000.00 each by one journal entry per account from the
-- cash account 0, like the bench accounts of `clearledger bench`.

DROP TABLE IF EXISTS postings, journal_entries, accounts CASCADE;

CREATE TABLE accounts (
    id             bigint PRIMARY KEY,
    currency       char(3) NOT NULL DEFAULT 'CNY',
    debits_posted  bigint  NOT NULL DEFAULT 0,
    credits_posted bigint  NOT NULL DEFAULT 0,
    -- debits must not exceed credits (customer accounts); the cash account
    -- is the only one allowed to go below zero.
    no_overdraft   boolean NOT NULL DEFAULT true,
    CHECK (NOT no_overdraft OR debits_posted <= credits_posted)
);

CREATE TABLE journal_entries (
    id          bigserial   PRIMARY KEY,
    external_id uuid        NOT NULL UNIQUE,  -- the client's idempotency key
    booked_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE postings (
    entry_id   bigint  NOT NULL REFERENCES journal_entries (id),
    account_id bigint  NOT NULL REFERENCES accounts (id),
    side       char(1) NOT NULL CHECK (side IN ('D', 'C')),
    amount     bigint  NOT NULL CHECK (amount > 0),
    PRIMARY KEY (entry_id, side)
);
-- An account's history, as statements and balance-at-a-time reads need it.
CREATE INDEX postings_by_account ON postings (account_id, entry_id);

INSERT INTO accounts (id, no_overdraft) VALUES (0, false);
INSERT INTO accounts (id) SELECT n FROM generate_series(1, :accounts) AS n;

-- Shape (b): one transfer per call, row locks in account-id order first.
CREATE FUNCTION post_transfer(p_debit bigint, p_credit bigint, p_amount bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_entry bigint;
BEGIN
    IF p_debit = p_credit THEN
        RAISE EXCEPTION 'accounts must be different';
    END IF;
    PERFORM 1 FROM accounts WHERE id IN (p_debit, p_credit) ORDER BY id FOR UPDATE;
    UPDATE accounts SET debits_posted = debits_posted + p_amount WHERE id = p_debit;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account % not found', p_debit;
    END IF;
    UPDATE accounts SET credits_posted = credits_posted + p_amount WHERE id = p_credit;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account % not found', p_credit;
    END IF;
    INSERT INTO journal_entries (external_id) VALUES (gen_random_uuid())
        RETURNING id INTO v_entry;
    INSERT INTO postings (entry_id, account_id, side, amount)
        VALUES (v_entry, p_debit, 'D', p_amount), (v_entry, p_credit, 'C', p_amount);
    RETURN v_entry;
END
$$;

-- Shape (c): many transfers in one transaction. Every account the batch
-- touches is locked in id order before any update, so concurrent batches
-- cannot deadlock; balances move by each account's sum over the batch.
CREATE FUNCTION post_transfers(p_debits bigint[], p_credits bigint[], p_amounts bigint[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_accounts integer;
BEGIN
    IF cardinality(p_debits) <> cardinality(p_credits)
       OR cardinality(p_debits) <> cardinality(p_amounts) THEN
        RAISE EXCEPTION 'the three arrays must have the same length';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_debits, p_credits) AS t(debit, credit)
               WHERE debit = credit) THEN
        RAISE EXCEPTION 'accounts must be different';
    END IF;
    PERFORM 1 FROM accounts WHERE id = ANY (p_debits || p_credits) ORDER BY id FOR UPDATE;
    UPDATE accounts a SET debits_posted = a.debits_posted + d.total
        FROM (SELECT debit, sum(amount) AS total
              FROM unnest(p_debits, p_amounts) AS t(debit, amount) GROUP BY debit) d
        WHERE a.id = d.debit;
    GET DIAGNOSTICS v_accounts = ROW_COUNT;
    IF v_accounts <> (SELECT count(DISTINCT x) FROM unnest(p_debits) AS x) THEN
        RAISE EXCEPTION 'a debit account was not found';
    END IF;
    UPDATE accounts a SET credits_posted = a.credits_posted + c.total
        FROM (SELECT credit, sum(amount) AS total
              FROM unnest(p_credits, p_amounts) AS t(credit, amount) GROUP BY credit) c
        WHERE a.id = c.credit;
    GET DIAGNOSTICS v_accounts = ROW_COUNT;
    IF v_accounts <> (SELECT count(DISTINCT x) FROM unnest(p_credits) AS x) THEN
        RAISE EXCEPTION 'a credit account was not found';
    END IF;
    WITH batch AS (
        SELECT nextval('journal_entries_id_seq') AS entry, t.debit, t.credit, t.amount
        FROM unnest(p_debits, p_credits, p_amounts) AS t(debit, credit, amount)
    ), entries AS (
        INSERT INTO journal_entries (id, external_id)
        SELECT entry, gen_random_uuid() FROM batch
    )
    INSERT INTO postings (entry_id, account_id, side, amount)
        SELECT entry, debit, 'D', amount FROM batch
        UNION ALL
        SELECT entry, credit, 'C', amount FROM batch;
    RETURN cardinality(p_debits);
END
$$;

-- Funding: one entry per customer account, cash to customer.
SELECT post_transfers(array_agg(0::bigint), array_agg(n::bigint), array_agg(100000000::bigint))
FROM generate_series(1, :accounts) AS n;

VACUUM ANALYZE;
CHECKPOINT;
