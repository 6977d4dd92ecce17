-- Dashboard at scale (docs/ARCHITECTURE.md §12.2): at 100k deals in one business, summing
-- every deal per stage on each dashboard view cost ~100 ms of aggregation alone, and
-- `stage = 'funded'` (enum equality is not LEAKPROOF) cannot be an index condition
-- under RLS, so the funded chart read every deal of the business through the policy.
--
-- 1. app.deal_stage_totals: count and amount per (business, stage), kept by statement
--    triggers on app.deals (transition tables: one upsert per stage per statement). Deal
--    writes in one stage already serialise on moveDeal's per-stage advisory lock, so the
--    totals row adds no new contention. Read by members through RLS; written only by
--    the SECURITY DEFINER triggers.
-- 2. Entering the funded stage stamps the funded milestone (funded_on) when it is empty,
--    so "funded volume by month" is a range scan on (business_id, funded_on) — a date
--    comparison, which is LEAKPROOF and so usable as an index condition under RLS.

CREATE TABLE app.deal_stage_totals (
  business_id uuid NOT NULL REFERENCES app.businesses (id) ON DELETE CASCADE,
  stage app.deal_stage NOT NULL,
  -- No CHECK (>= 0): an upsert's proposed row carries the (negative) delta and is
  -- checked before its conflict turns it into an update.
  deal_count bigint NOT NULL DEFAULT 0,
  amount_cents numeric NOT NULL DEFAULT 0,
  PRIMARY KEY (business_id, stage)
);
ALTER TABLE app.deal_stage_totals ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.deal_stage_totals FORCE ROW LEVEL SECURITY;
GRANT SELECT ON app.deal_stage_totals TO capto_authenticated, capto_service;
CREATE POLICY deal_stage_totals_select_member ON app.deal_stage_totals FOR SELECT TO capto_authenticated
  USING (business_id IN (SELECT app.member_business_ids()));
CREATE POLICY deal_stage_totals_select_service ON app.deal_stage_totals FOR SELECT TO capto_service USING (true);

CREATE FUNCTION app.deal_totals_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO app.deal_stage_totals AS t (business_id, stage, deal_count, amount_cents)
  SELECT n.business_id, n.stage, count(*), sum(n.amount_cents) FROM new_rows n GROUP BY 1, 2
  ON CONFLICT (business_id, stage) DO UPDATE
    SET deal_count = t.deal_count + EXCLUDED.deal_count, amount_cents = t.amount_cents + EXCLUDED.amount_cents;
  RETURN NULL;
END $$;
-- Deletions only decrease existing rows (never insert): a business being deleted takes
-- its deals and its totals in one cascade, and must not be re-referenced meanwhile.
CREATE FUNCTION app.deal_totals_remove() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  UPDATE app.deal_stage_totals t SET deal_count = t.deal_count - o.n, amount_cents = t.amount_cents - o.a
    FROM (SELECT business_id, stage, count(*) AS n, sum(amount_cents) AS a FROM old_rows GROUP BY 1, 2) o
   WHERE t.business_id = o.business_id AND t.stage = o.stage;
  RETURN NULL;
END $$;
CREATE FUNCTION app.deal_totals_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO app.deal_stage_totals AS t (business_id, stage, deal_count, amount_cents)
  SELECT x.business_id, x.stage, sum(x.n), sum(x.a) FROM (
    SELECT n.business_id, n.stage, 1 AS n, n.amount_cents AS a FROM new_rows n
    UNION ALL
    SELECT o.business_id, o.stage, -1, -o.amount_cents FROM old_rows o
  ) x GROUP BY 1, 2 HAVING sum(x.n) <> 0 OR sum(x.a) <> 0
  ON CONFLICT (business_id, stage) DO UPDATE
    SET deal_count = t.deal_count + EXCLUDED.deal_count, amount_cents = t.amount_cents + EXCLUDED.amount_cents;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION app.deal_totals_add() FROM PUBLIC;
REVOKE ALL ON FUNCTION app.deal_totals_remove() FROM PUBLIC;
REVOKE ALL ON FUNCTION app.deal_totals_change() FROM PUBLIC;
CREATE TRIGGER deals_totals_insert AFTER INSERT ON app.deals
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.deal_totals_add();
CREATE TRIGGER deals_totals_update AFTER UPDATE ON app.deals
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.deal_totals_change();
CREATE TRIGGER deals_totals_delete AFTER DELETE ON app.deals
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION app.deal_totals_remove();

INSERT INTO app.deal_stage_totals (business_id, stage, deal_count, amount_cents)
SELECT business_id, stage, count(*), sum(amount_cents) FROM app.deals GROUP BY 1, 2;

-- Entering the funded stage stamps the funded milestone when it is empty.
CREATE FUNCTION app.deals_stamp_funded_on() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.stage = 'funded' AND NEW.funded_on IS NULL
     AND (TG_OP = 'INSERT' OR OLD.stage IS DISTINCT FROM NEW.stage) THEN
    NEW.funded_on := (pg_catalog.now() AT TIME ZONE coalesce(
      (SELECT b.time_zone FROM app.businesses b WHERE b.id = NEW.business_id), 'America/New_York'))::date;
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app.deals_stamp_funded_on() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.deals_stamp_funded_on() TO capto_authenticated, capto_service;
CREATE TRIGGER deals_stamp_funded_on BEFORE INSERT OR UPDATE OF stage ON app.deals
  FOR EACH ROW EXECUTE FUNCTION app.deals_stamp_funded_on();
UPDATE app.deals d SET funded_on = coalesce(
    (SELECT (max(sc.changed_at) AT TIME ZONE 'America/New_York')::date FROM app.deal_stage_changes sc
      WHERE sc.business_id = d.business_id AND sc.deal_id = d.id AND sc.to_stage = 'funded'),
    d.updated_at::date)
 WHERE d.stage = 'funded' AND d.funded_on IS NULL;

-- The funded chart's range scan.
CREATE INDEX deals_business_funded_on_idx ON app.deals (business_id, funded_on) INCLUDE (amount_cents);
