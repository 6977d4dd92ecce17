// The automation builder (docs/ARCHITECTURE.md §25): name, trigger, conditions, a vertical
// list of steps and the exit rules, all driven by the tables in kinds.tsx. Saving sends the
// whole definition; the server validates it again and makes it the next version.
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { SelectField, TextField } from '../components/field.tsx';
import { Alert } from '../components/states.tsx';
import {
  CONDITIONS,
  kindOf,
  missingParts,
  STEPS,
  TRIGGERS,
  type Condition,
  type Definition,
  type Kind,
  type Refs,
  type Step,
} from './kinds.tsx';

export interface Draft extends Definition {
  name: string;
}

/** A type's editor, or a sentence when this build does not know the type. */
function KindFields<V extends { type: string }>({
  kind,
  value,
  set,
  refs,
}: {
  kind: Kind<V> | undefined;
  value: V;
  set: (v: V) => void;
  refs: Refs;
}): ReactNode {
  if (!kind) return <p className="small muted">This type ({value.type}) cannot be edited in this version of Capto.</p>;
  const Editor = kind.Editor;
  return Editor ? <Editor value={value} set={set} refs={refs} /> : null;
}

function typeOptions<U extends { type: string }>(table: Record<string, Kind<U>>) {
  return Object.entries(table).map(([type, k]) => (
    <option key={type} value={type}>
      {k.label}
    </option>
  ));
}

/** "Add …": a type picker and a button, so adding is one choice and one press. */
function AddRow({
  label,
  table,
  onAdd,
}: {
  label: string;
  table: Record<string, { label: string }>;
  onAdd: (type: string) => void;
}) {
  const first = Object.keys(table)[0] ?? '';
  const [type, setType] = useState(first);
  return (
    <div className="inline-form add-row">
      <SelectField label={`${label} type`} value={type} onChange={(e) => setType(e.target.value)}>
        {Object.entries(table).map(([t, k]) => (
          <option key={t} value={t}>
            {k.label}
          </option>
        ))}
      </SelectField>
      <button type="button" onClick={() => onAdd(type)}>
        Add {label.toLowerCase()}
      </button>
    </div>
  );
}

function moved<X>(items: X[], from: number, to: number): X[] {
  const next = items.slice();
  const [item] = next.splice(from, 1);
  next.splice(to, 0, item!);
  return next;
}

export function AutomationBuilder({
  initial,
  refs,
  saving,
  error,
  submitLabel,
  note,
  onSave,
  onCancel,
}: {
  initial: Draft;
  refs: Refs;
  saving: boolean;
  error: ReactNode;
  submitLabel: string;
  note?: ReactNode;
  onSave: (draft: Draft) => void;
  onCancel?: () => void;
}) {
  const [draft, setDraft] = useState<Draft>(initial);
  const [problems, setProblems] = useState<string[]>([]);
  const triggerId = useId();
  const anyTable = <U extends { type: string }>(t: unknown) => t as Record<string, Kind<U>>;
  const triggers = anyTable<Definition['trigger']>(TRIGGERS);
  const conditions = anyTable<Condition>(CONDITIONS);
  const steps = anyTable<Step>(STEPS);

  const setStep = (i: number, s: Step) => setDraft((d) => ({ ...d, steps: d.steps.map((x, j) => (j === i ? s : x)) }));
  const setCondition = (i: number, c: Condition) =>
    setDraft((d) => ({ ...d, conditions: d.conditions.map((x, j) => (j === i ? c : x)) }));

  function submit(e: FormEvent) {
    e.preventDefault();
    const missing = [...(draft.name.trim() ? [] : ['Give the automation a name.']), ...missingParts(draft)];
    setProblems(missing);
    if (missing.length === 0) onSave({ ...draft, name: draft.name.trim() });
  }

  return (
    <form className="stack builder" aria-label="Automation builder" onSubmit={submit} noValidate>
      {note}
      <section className="card" aria-labelledby={`${triggerId}-name`}>
        <h2 id={`${triggerId}-name`} className="sr-only">
          Name
        </h2>
        <TextField
          label="Automation name"
          required
          maxLength={200}
          value={draft.name}
          onChange={(e) => setDraft((d) => ({ ...d, name: e.target.value }))}
        />
      </section>

      <section className="card" aria-labelledby={`${triggerId}-trigger`}>
        <h2 id={`${triggerId}-trigger`}>When</h2>
        <SelectField
          label="Trigger"
          value={draft.trigger.type}
          onChange={(e) => {
            const k = triggers[e.target.value];
            if (k) setDraft((d) => ({ ...d, trigger: k.make(refs) }));
          }}
        >
          {typeOptions(triggers)}
        </SelectField>
        <KindFields
          kind={triggers[draft.trigger.type]}
          value={draft.trigger}
          set={(trigger) => setDraft((d) => ({ ...d, trigger }))}
          refs={refs}
        />
      </section>

      <section className="card" aria-labelledby={`${triggerId}-conditions`}>
        <h2 id={`${triggerId}-conditions`}>Only if</h2>
        {draft.conditions.length === 0 && (
          <p className="small muted">No conditions: every contact the trigger finds is enrolled.</p>
        )}
        <ol className="builder-list">
          {draft.conditions.map((c, i) => {
            const k = kindOf(CONDITIONS, c.type);
            const name = `Condition ${i + 1}: ${k?.label ?? c.type}`;
            return (
              <li key={i}>
                <fieldset className="builder-item" aria-label={name}>
                  <div className="row-between">
                    <strong>{name}</strong>
                    <button
                      type="button"
                      className="link-button"
                      aria-label={`Remove condition ${i + 1}`}
                      onClick={() => setDraft((d) => ({ ...d, conditions: d.conditions.filter((_, j) => j !== i) }))}
                    >
                      Remove
                    </button>
                  </div>
                  <KindFields kind={conditions[c.type]} value={c} set={(v) => setCondition(i, v)} refs={refs} />
                </fieldset>
              </li>
            );
          })}
        </ol>
        <AddRow
          label="Condition"
          table={conditions}
          onAdd={(type) => {
            const k = conditions[type];
            if (k) setDraft((d) => ({ ...d, conditions: [...d.conditions, k.make(refs)] }));
          }}
        />
      </section>

      <section className="card" aria-labelledby={`${triggerId}-steps`}>
        <h2 id={`${triggerId}-steps`}>Then</h2>
        <ol className="builder-list builder-steps" data-testid="builder-steps">
          {draft.steps.map((s, i) => {
            const k = kindOf(STEPS, s.type);
            const name = `Step ${i + 1}: ${k?.label ?? s.type}`;
            return (
              <li key={i}>
                <fieldset className="builder-item" aria-label={name}>
                  <div className="row-between">
                    <strong>{name}</strong>
                    <div className="row">
                      <button
                        type="button"
                        className="link-button"
                        aria-label={`Move step ${i + 1} up`}
                        disabled={i === 0}
                        onClick={() => setDraft((d) => ({ ...d, steps: moved(d.steps, i, i - 1) }))}
                      >
                        Up
                      </button>
                      <button
                        type="button"
                        className="link-button"
                        aria-label={`Move step ${i + 1} down`}
                        disabled={i === draft.steps.length - 1}
                        onClick={() => setDraft((d) => ({ ...d, steps: moved(d.steps, i, i + 1) }))}
                      >
                        Down
                      </button>
                      <button
                        type="button"
                        className="link-button"
                        aria-label={`Remove step ${i + 1}`}
                        onClick={() => setDraft((d) => ({ ...d, steps: d.steps.filter((_, j) => j !== i) }))}
                      >
                        Remove
                      </button>
                    </div>
                  </div>
                  <KindFields kind={steps[s.type]} value={s} set={(v) => setStep(i, v)} refs={refs} />
                </fieldset>
              </li>
            );
          })}
        </ol>
        {draft.steps.length === 0 && <p className="small muted">No steps yet: add the first one below.</p>}
        <AddRow
          label="Step"
          table={steps}
          onAdd={(type) => {
            const k = steps[type];
            if (k) setDraft((d) => ({ ...d, steps: [...d.steps, k.make(refs)] }));
          }}
        />
      </section>

      <section className="card" aria-labelledby={`${triggerId}-exit`}>
        <h2 id={`${triggerId}-exit`}>Stop when</h2>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={draft.exit.on_reply}
            onChange={(e) => setDraft((d) => ({ ...d, exit: { ...d.exit, on_reply: e.target.checked } }))}
          />
          <span>The contact replies</span>
        </label>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={draft.exit.on_opt_out}
            onChange={(e) => setDraft((d) => ({ ...d, exit: { ...d.exit, on_opt_out: e.target.checked } }))}
          />
          <span>The contact opts out (STOP or unsubscribe)</span>
        </label>
        {draft.trigger.type === 'deal_stage_changed' && (
          <label className="checkbox">
            <input
              type="checkbox"
              checked={draft.exit.on_deal_stage_change}
              onChange={(e) => setDraft((d) => ({ ...d, exit: { ...d.exit, on_deal_stage_change: e.target.checked } }))}
            />
            <span>The deal leaves the stage that started it</span>
          </label>
        )}
        <TextField
          label="Don't enroll the same contact again within (days)"
          type="number"
          min={0}
          max={3650}
          hint="Leave empty to allow a new run every time the trigger fires."
          value={draft.exit.reenroll_after_days === null ? '' : String(draft.exit.reenroll_after_days)}
          onChange={(e) =>
            setDraft((d) => ({
              ...d,
              exit: {
                ...d.exit,
                reenroll_after_days:
                  e.target.value.trim() === '' ? null : Math.max(0, Math.trunc(Number(e.target.value))),
              },
            }))
          }
        />
      </section>

      {problems.length > 0 && (
        <Alert kind="error">
          <p>Before saving:</p>
          <ul>
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </Alert>
      )}
      {error}
      <div className="row builder-actions">
        <button type="submit" className="primary" disabled={saving}>
          {saving ? 'Saving…' : submitLabel}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
