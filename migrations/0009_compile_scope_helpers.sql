-- The business-scope helpers of 0001 in PL/pgSQL instead of SQL (issue 9 bench: RLS
-- list-50 ≤ 1.10, and the request set-up's app.is_member()).
--
-- A SQL function is either inlined into the calling query or parsed and planned anew on
-- every call. These are SECURITY DEFINER, which the planner never inlines, so every
-- statement through a tenant policy re-planned the memberships lookup of
-- app.member_business_ids(), and every request's set-up that of app.is_member().
-- PL/pgSQL keeps each statement's plan for the life of the connection.
--
-- Measured with pgbench on server PostgreSQL (200k contacts over 1000 businesses, 20
-- list-50 statements per transaction, extended protocol as the application uses it):
-- the policy cost per statement fell from ~80 µs to ~45 µs over the same statement as a
-- bypass role; SELECT app.is_member(…) from ~180 µs to ~140 µs per round trip.
--
-- Same names, arguments, results, bodies, owner, grants and pinned search_path
-- (CREATE OR REPLACE keeps owner and grants); app.uid() is still read once per call.

CREATE OR REPLACE FUNCTION app.member_business_ids() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  me uuid := app.uid();
BEGIN
  RETURN QUERY SELECT m.business_id FROM app.memberships m WHERE m.user_id = me;
END $$;

-- Businesses where the current user holds at least `min_role` (member < admin < owner).
CREATE OR REPLACE FUNCTION app.business_ids_with_role(min_role app.member_role) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  me uuid := app.uid();
BEGIN
  RETURN QUERY SELECT m.business_id FROM app.memberships m WHERE m.user_id = me AND m.role >= min_role;
END $$;

CREATE OR REPLACE FUNCTION app.is_member(bid uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  me uuid := app.uid();
BEGIN
  RETURN EXISTS (SELECT 1 FROM app.memberships m WHERE m.business_id = bid AND m.user_id = me);
END $$;

CREATE OR REPLACE FUNCTION app.has_role(bid uuid, min_role app.member_role) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  me uuid := app.uid();
BEGIN
  RETURN EXISTS (SELECT 1 FROM app.memberships m WHERE m.business_id = bid AND m.user_id = me AND m.role >= min_role);
END $$;
