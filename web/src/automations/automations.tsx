// Automations (docs/ARCHITECTURE.md §25): the list with live enrollment counts, the
// mortgage recipes (one click makes an editable draft), the builder for a new or existing
// automation, activate / pause, and the enrollments of one automation. Owners and admins
// change automations; members see them read-only (the server refuses their writes anyway).
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError, api, bpath, errorMessage } from '../api/client.ts';
import { call, typedApi, type ApiResponse } from '../api/typed.ts';
import { useBusiness } from '../app/me.ts';
import { usePageTitle } from '../app/title.ts';
import { SelectField } from '../components/field.tsx';
import { formatDateTime } from '../components/format.ts';
import { Alert, Empty, Loading, QueryView } from '../components/states.tsx';
import { humanize, toPage, type List } from '../crm/types.ts';
import { useTemplates } from '../outreach/templates.tsx';
import { useEmailSenders } from '../settings/email-senders.tsx';
import { AutomationBuilder, type Draft } from './builder.tsx';
import { CONDITIONS, kindOf, STEPS, TRIGGERS, type Automation, type Member, type Refs } from './kinds.tsx';

type Enrollment = ApiResponse<'/api/businesses/{bid}/automations/{id}/enrollments', 'get'>['items'][number];
type EnrollmentState = Enrollment['state'];
const ENROLLMENT_STATES: EnrollmentState[] = ['active', 'paused', 'completed', 'exited', 'failed'];

/** The recipes the server offers (GET automations/recipes), named and described for people. */
export function useRecipes(bid: string) {
  return useQuery({
    queryKey: ['automation-recipes', bid],
    queryFn: async () =>
      (await call(typedApi.GET('/api/businesses/{bid}/automations/recipes', { params: { path: { bid } } }))).items,
    staleTime: Infinity,
  });
}

const STATUS_BADGE: Record<Automation['status'], string> = {
  draft: 'badge',
  active: 'badge badge-ok',
  paused: 'badge badge-warn',
};

/** Sentences for the stable codes this screen meets (the rest: errorMessage). */
export function automationError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'invalid_transition')
      return `${errorMessage(error)} Reload the page to see the automation as it is now.`;
    if (error.code === 'forbidden') return 'Only owners and admins can change automations.';
    const missing = /^(template|list|member|email sender) not found/.exec(error.message);
    if (error.code === 'not_found' && missing)
      return `A ${missing[1]} this automation names is not in this business any more. Choose another one and save again.`;
  }
  return errorMessage(error);
}

export function useAutomations(bid: string) {
  return useQuery({
    queryKey: ['automations', bid],
    queryFn: async () =>
      (await call(typedApi.GET('/api/businesses/{bid}/automations', { params: { path: { bid } } }))).items,
    // Live counts while anything runs.
    refetchInterval: (q) => ((q.state.data ?? []).some((a) => a.status === 'active') ? 3000 : false),
  });
}

/** The templates, lists and members a definition can name. */
function useRefs(bid: string): { refs: Refs | undefined; error: unknown; retry: () => void } {
  const templates = useTemplates(bid);
  const lists = useQuery({
    queryKey: ['lists', bid],
    queryFn: async () => toPage<List>(await api(bpath(bid, 'lists'))).items,
  });
  const members = useQuery({
    queryKey: ['members', bid],
    queryFn: async () => toPage<Member>(await api(bpath(bid, 'members')), 'members').items,
  });
  const senders = useEmailSenders(bid);
  const all = [templates, lists, members, senders];
  const failed = all.find((q) => q.isError);
  return {
    refs:
      templates.data && lists.data && members.data && senders.data
        ? { templates: templates.data, lists: lists.data, members: members.data, senders: senders.data }
        : undefined,
    error: failed?.error,
    retry: () => all.forEach((q) => void q.refetch()),
  };
}

export function CountsLine({ counts }: { counts: Automation['counts'] }) {
  return (
    <span data-testid="automation-counts">
      {counts.active} active · {counts.paused} held · {counts.completed} completed · {counts.exited} exited ·{' '}
      {counts.failed} failed
    </span>
  );
}

function triggerSummary(a: Pick<Automation, 'trigger'>, refs?: Refs): string {
  const k = kindOf(TRIGGERS, a.trigger.type);
  return k
    ? k.summary(a.trigger, refs ?? { templates: [], lists: [], members: [], senders: [] })
    : humanize(a.trigger.type);
}

function RecipeCards({ bid, canManage }: { bid: string; canManage: boolean }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const recipes = useRecipes(bid);
  const create = useMutation({
    mutationFn: (key: string) =>
      call(typedApi.POST('/api/businesses/{bid}/automations/recipes/{key}', { params: { path: { bid, key } } })),
    onSuccess: async (a) => {
      await queryClient.invalidateQueries({ queryKey: ['automations', bid] });
      await queryClient.invalidateQueries({ queryKey: ['templates', bid] });
      navigate(`/b/${bid}/automations/${a.id}`);
    },
  });
  return (
    <section aria-labelledby="recipes-h" className="stack">
      <h2 id="recipes-h">Start from a recipe</h2>
      {create.isError && <Alert kind="error">{automationError(create.error)}</Alert>}
      <QueryView query={recipes} loadingLabel="Loading recipes…">
        {(items) => (
          <ul className="recipe-grid" data-testid="recipes">
            {items.map((r) => (
              <li key={r.key} className="card">
                <h3>{r.name}</h3>
                <p className="small">{r.about}</p>
                {canManage && (
                  <button type="button" disabled={create.isPending} onClick={() => create.mutate(r.key)}>
                    {create.isPending && create.variables === r.key ? 'Creating…' : `Use ${r.name}`}
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </QueryView>
      <p className="small muted">A recipe makes a draft and its text templates; nothing runs until you activate it.</p>
    </section>
  );
}

export function AutomationsPage() {
  const { bid, canManage } = useBusiness();
  const automations = useAutomations(bid);
  const [showRecipes, setShowRecipes] = useState(false);
  return (
    <div className="stack">
      <div className="row-between">
        <h1>Automations</h1>
        {canManage && (
          <div className="row">
            {automations.data && automations.data.length > 0 && (
              <button type="button" aria-expanded={showRecipes} onClick={() => setShowRecipes((s) => !s)}>
                {showRecipes ? 'Hide recipes' : 'Recipes'}
              </button>
            )}
            <Link className="button primary" to={`/b/${bid}/automations/new`}>
              New automation
            </Link>
          </div>
        )}
      </div>
      <p className="muted">
        Follow-up that runs itself: a trigger, optional conditions and steps — texts, waits, tasks. A reply or a STOP
        ends a contact&apos;s run.
      </p>
      <QueryView query={automations} loadingLabel="Loading automations…">
        {(items) =>
          items.length === 0 ? (
            <>
              <Empty>
                No automations yet.{' '}
                {canManage
                  ? 'Start from a recipe below, or build one from scratch.'
                  : 'An owner or admin creates them.'}
              </Empty>
              <RecipeCards bid={bid} canManage={canManage} />
            </>
          ) : (
            <>
              {showRecipes && <RecipeCards bid={bid} canManage={canManage} />}
              <div className="table-wrap">
                <table data-testid="automations">
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Status</th>
                      <th scope="col">When</th>
                      <th scope="col">Enrollments</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((a) => (
                      <tr key={a.id}>
                        <td>
                          <Link to={`/b/${bid}/automations/${a.id}`}>{a.name}</Link>
                        </td>
                        <td>
                          <span className={STATUS_BADGE[a.status]}>{a.status}</span>
                        </td>
                        <td className="small">{triggerSummary(a)}</td>
                        <td className="small">
                          <CountsLine counts={a.counts} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )
        }
      </QueryView>
    </div>
  );
}

const EMPTY_DRAFT: Draft = {
  name: '',
  trigger: { type: 'contact_created' },
  conditions: [],
  steps: [],
  exit: { on_reply: true, on_opt_out: true, on_deal_stage_change: false, reenroll_after_days: null },
};

export function NewAutomationPage() {
  const { bid } = useBusiness();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { refs, error, retry } = useRefs(bid);
  usePageTitle('New automation');
  const create = useMutation({
    mutationFn: (d: Draft) =>
      call(typedApi.POST('/api/businesses/{bid}/automations', { params: { path: { bid } }, body: d })),
    onSuccess: async (a) => {
      await queryClient.invalidateQueries({ queryKey: ['automations', bid] });
      navigate(`/b/${bid}/automations/${a.id}`);
    },
  });
  return (
    <div className="stack">
      <p className="small">
        <Link to={`/b/${bid}/automations`}>← Automations</Link>
      </p>
      <h1>New automation</h1>
      {error ? (
        <Alert kind="error">
          {errorMessage(error)}{' '}
          <button type="button" onClick={retry}>
            Try again
          </button>
        </Alert>
      ) : !refs ? (
        <Loading />
      ) : (
        <AutomationBuilder
          initial={EMPTY_DRAFT}
          refs={refs}
          saving={create.isPending}
          error={create.isError ? <Alert kind="error">{automationError(create.error)}</Alert> : null}
          submitLabel="Create draft"
          onSave={(d) => create.mutate(d)}
          onCancel={() => navigate(`/b/${bid}/automations`)}
        />
      )}
    </div>
  );
}

/** Read-only view of a definition, for members and for a quick look. */
function DefinitionView({ a, refs }: { a: Automation; refs: Refs }) {
  return (
    <section className="card" aria-labelledby="def-h">
      <h2 id="def-h">What it does</h2>
      <p>
        <strong>When:</strong> {triggerSummary(a, refs)}
      </p>
      {a.conditions.length > 0 && (
        <p>
          <strong>Only if:</strong>{' '}
          {a.conditions.map((c) => kindOf(CONDITIONS, c.type)?.summary(c, refs) ?? humanize(c.type)).join('; ')}
        </p>
      )}
      <ol className="step-summary">
        {a.steps.map((s, i) => (
          <li key={i}>{kindOf(STEPS, s.type)?.summary(s, refs) ?? humanize(s.type)}</li>
        ))}
      </ol>
      <p className="small muted">
        Stops when{' '}
        {[
          a.exit.on_reply && 'the contact replies',
          a.exit.on_opt_out && 'the contact opts out',
          a.exit.on_deal_stage_change && 'the deal leaves its stage',
        ]
          .filter(Boolean)
          .join(', ') || 'the last step is done'}
        {a.exit.reenroll_after_days !== null ? `; not again within ${a.exit.reenroll_after_days} days` : ''}.
      </p>
    </section>
  );
}

/** Where a run is: step_index is the next step to run (a wait's time is next_run_at). */
function stepLabel(a: Automation, e: Enrollment): string {
  if (e.state === 'completed') return 'All steps done';
  // Enrollments on an older version may have other steps: name only the position then.
  const current = e.version === a.version;
  const s = current ? a.steps[e.step_index] : undefined;
  const what = s ? ` · ${kindOf(STEPS, s.type)?.label ?? humanize(s.type)}` : '';
  const where = `step ${e.step_index + 1}${current ? ` of ${a.steps.length}` : ` (version ${e.version})`}${what}`;
  return e.state === 'active' || e.state === 'paused' ? `Next: ${where}` : `Stopped before ${where}`;
}

function Enrollments({ bid, a }: { bid: string; a: Automation }) {
  const [state, setState] = useState<EnrollmentState | ''>('');
  const enrollments = useQuery({
    queryKey: ['automation-enrollments', bid, a.id, state, a.counts],
    queryFn: async () =>
      (
        await call(
          typedApi.GET('/api/businesses/{bid}/automations/{id}/enrollments', {
            params: { path: { bid, id: a.id }, query: { state: state || undefined, limit: 200 } },
          }),
        )
      ).items,
  });
  return (
    <section className="card" aria-labelledby="enrollments-h">
      <div className="row-between">
        <h2 id="enrollments-h">Enrollments</h2>
        <SelectField label="Show" value={state} onChange={(e) => setState(e.target.value as EnrollmentState | '')}>
          <option value="">All</option>
          {ENROLLMENT_STATES.map((s) => (
            <option key={s} value={s}>
              {humanize(s)} ({a.counts[s]})
            </option>
          ))}
        </SelectField>
      </div>
      <QueryView query={enrollments} loadingLabel="Loading enrollments…">
        {(items) =>
          items.length === 0 ? (
            <Empty>
              {state
                ? `No ${state} enrollments.`
                : a.status === 'active'
                  ? 'Nobody is enrolled yet: contacts join when the trigger fires.'
                  : 'Nobody is enrolled yet. Activate the automation to start enrolling.'}
            </Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="enrollments">
                <thead>
                  <tr>
                    <th scope="col">Contact</th>
                    <th scope="col">State</th>
                    <th scope="col">Where</th>
                    <th scope="col">Next step</th>
                    <th scope="col">Enrolled</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((e) => (
                    <tr key={e.id}>
                      <td>
                        <Link to={`/b/${bid}/contacts/${e.contact_id}`}>{e.contact_name || 'Unnamed contact'}</Link>
                      </td>
                      <td>
                        <span className="badge" data-testid="enrollment-state">
                          {e.state}
                          {e.exit_reason ? ` (${humanize(e.exit_reason).toLowerCase()})` : ''}
                          {e.error_code ? ` (${e.error_code})` : ''}
                        </span>
                      </td>
                      <td className="small">{stepLabel(a, e)}</td>
                      <td className="small">
                        {e.next_run_at
                          ? formatDateTime(e.next_run_at)
                          : e.finished_at
                            ? `Ended ${formatDateTime(e.finished_at)}`
                            : '—'}
                      </td>
                      <td className="small">{formatDateTime(e.enrolled_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
    </section>
  );
}

export function AutomationDetail() {
  const { bid, canManage } = useBusiness();
  const { automationId = '' } = useParams();
  const queryClient = useQueryClient();
  const { refs, error: refsError, retry } = useRefs(bid);
  const recipes = useRecipes(bid);
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const path = { bid, id: automationId };
  const automation = useQuery({
    queryKey: ['automation', bid, automationId],
    queryFn: () => call(typedApi.GET('/api/businesses/{bid}/automations/{id}', { params: { path } })),
    refetchInterval: (q) => (q.state.data?.status === 'active' ? 3000 : false),
  });
  usePageTitle(automation.data?.name ?? 'Automation');
  const refresh = async () => {
    await queryClient.invalidateQueries({ queryKey: ['automation', bid, automationId] });
    await queryClient.invalidateQueries({ queryKey: ['automations', bid] });
  };
  const act = useMutation({
    mutationFn: (action: 'activate' | 'pause') =>
      action === 'activate'
        ? call(typedApi.POST('/api/businesses/{bid}/automations/{id}/activate', { params: { path } }))
        : call(typedApi.POST('/api/businesses/{bid}/automations/{id}/pause', { params: { path } })),
    onSuccess: async (a) => {
      setSaved(
        a.status === 'active'
          ? 'Active: the trigger now enrolls contacts.'
          : 'Paused: running enrollments hold at their step.',
      );
      await refresh();
    },
  });
  const save = useMutation({
    mutationFn: (d: Draft) =>
      call(typedApi.PATCH('/api/businesses/{bid}/automations/{id}', { params: { path }, body: d })),
    onSuccess: async (a) => {
      queryClient.setQueryData(['automation', bid, automationId], a);
      setEditing(false);
      setSaved(`Saved as version ${a.version}.`);
      await refresh();
    },
  });
  return (
    <QueryView
      query={automation}
      notFound={{ what: 'automation', back: `/b/${bid}/automations`, backLabel: 'Back to automations' }}
    >
      {(a) => (
        <div className="stack">
          <p className="small">
            <Link to={`/b/${bid}/automations`}>← Automations</Link>
          </p>
          <div className="row-between">
            <h1>{a.name}</h1>
            <div className="row">
              <span className={STATUS_BADGE[a.status]} data-testid="automation-status">
                {a.status}
              </span>
              {canManage && a.status !== 'active' && (
                <button
                  type="button"
                  className="primary"
                  disabled={act.isPending || editing}
                  onClick={() => act.mutate('activate')}
                >
                  Activate
                </button>
              )}
              {canManage && a.status === 'active' && (
                <button type="button" disabled={act.isPending} onClick={() => act.mutate('pause')}>
                  Pause
                </button>
              )}
              {canManage && !editing && (
                <button
                  type="button"
                  onClick={() => {
                    setSaved(null);
                    setEditing(true);
                  }}
                >
                  Edit
                </button>
              )}
            </div>
          </div>
          <p className="small muted">
            Version {a.version}
            {a.recipe ? ` · from the ${recipes.data?.find((r) => r.key === a.recipe)?.name ?? a.recipe} recipe` : ''}
            {a.activated_at ? ` · activated ${formatDateTime(a.activated_at)}` : ''}
          </p>
          <p>
            <CountsLine counts={a.counts} />
          </p>
          {act.isError && <Alert kind="error">{automationError(act.error)}</Alert>}
          {saved && <Alert kind="ok">{saved}</Alert>}
          {!canManage && <p className="small muted">Only owners and admins change automations.</p>}
          {refsError ? (
            <Alert kind="error">
              {errorMessage(refsError)}{' '}
              <button type="button" onClick={retry}>
                Try again
              </button>
            </Alert>
          ) : !refs ? (
            <Loading />
          ) : editing ? (
            <AutomationBuilder
              key={a.version}
              initial={{ name: a.name, trigger: a.trigger, conditions: a.conditions, steps: a.steps, exit: a.exit }}
              refs={refs}
              saving={save.isPending}
              error={save.isError ? <Alert kind="error">{automationError(save.error)}</Alert> : null}
              submitLabel="Save changes"
              note={
                a.counts.active + a.counts.paused > 0 ? (
                  <Alert kind="info">
                    Saving makes version {a.version + 1} for new enrollments; the {a.counts.active + a.counts.paused}{' '}
                    running now finish on the version they started with.
                  </Alert>
                ) : null
              }
              onSave={(d) => save.mutate(d)}
              onCancel={() => {
                save.reset();
                setEditing(false);
              }}
            />
          ) : (
            <DefinitionView a={a} refs={refs} />
          )}
          <Enrollments bid={bid} a={a} />
        </div>
      )}
    </QueryView>
  );
}
