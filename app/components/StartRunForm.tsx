'use client';
/**
 * Start a run: the tutorial's hyperparameters as defaults, each optimizer with its own
 * settings. Every field is checked before anything is sent: an empty or unreadable field is
 * an error next to it in words ("Epochs: a whole number from 1 to 1,000"), never silently the
 * default; only the two limits may be left empty, and their placeholder says what is used. The
 * inputs' min/max are the schema's own bounds (an exclusive bound, "above 0", is said in words
 * only). Field errors from the hub are shown the same way.
 */
import { useRouter } from 'next/navigation';
import { useEffect, useState, type FormEvent } from 'react';
import {
  browserSchemas,
  describeHyperparamIssue,
  HYPERPARAM_BOUNDS,
  HYPERPARAM_RULES,
  MAX_RUN_NAME_CHARS,
  optimizerReads,
  runStartIssues,
  type DatasetSizes,
  type HttpBodies,
} from '../../server/protocol';
import { apiGet } from '../lib/api';
import { useHub } from '../lib/HubProvider';
import { FormError } from './FormError';

type Key =
  | 'epochs'
  | 'batchSize'
  | 'learningRate'
  | 'momentum'
  | 'beta1'
  | 'beta2'
  | 'epsilon'
  | 'seed'
  | 'trainLimit'
  | 'testLimit';

interface Field {
  key: Key;
  label: string;
  def: string;
  /** Whole numbers only. */
  int?: boolean;
  /** May be left empty: what is used then (the placeholder), from the hub's data set's sizes. */
  optional?: (dataset: DatasetSizes | null) => string;
}

const all = (count: number | undefined) =>
  count === undefined ? 'all' : `all ${count.toLocaleString('en-US')}`;

const FIELDS: readonly Field[] = [
  { key: 'epochs', label: 'Epochs', def: '1', int: true },
  { key: 'batchSize', label: 'Batch size', def: '32', int: true },
  { key: 'learningRate', label: 'Learning rate', def: '0.01' },
  { key: 'momentum', label: 'Momentum', def: '0.5' },
  { key: 'beta1', label: 'β₁', def: '0.9' },
  { key: 'beta2', label: 'β₂', def: '0.999' },
  { key: 'epsilon', label: 'ε', def: '1e-8' },
  { key: 'seed', label: 'Seed', def: '1', int: true },
  {
    key: 'trainLimit',
    label: 'Training digits',
    def: '',
    int: true,
    optional: (d) => all(d?.train),
  },
  { key: 'testLimit', label: 'Test digits', def: '', int: true, optional: (d) => all(d?.test) },
];
const LABEL = Object.fromEntries(FIELDS.map((f) => [f.key, f.label])) as Record<string, string>;
const OPTIMIZER_LABELS = { sgd: 'SGD with momentum', adam: 'Adam' } as const;

/** The inputs' inclusive bounds; an exclusive one ("above 0") has no HTML attribute. */
function bounds(key: Key): { min?: number; max?: number } {
  const b: { min?: number; max?: number } =
    HYPERPARAM_BOUNDS[key === 'trainLimit' || key === 'testLimit' ? 'limit' : key];
  return { min: b.min, max: b.max };
}

/** What is wrong with a field's text before the schema sees it, or null. */
function unreadable(f: Field, raw: string, badInput: boolean): string | null {
  const rule = HYPERPARAM_RULES[f.key];
  if (badInput) return `${f.label}: ${rule} — what is typed is not a number`;
  if (raw === '' && !f.optional) return `${f.label}: required — ${rule}`;
  if (raw !== '' && !Number.isFinite(Number(raw))) return `${f.label}: ${rule}, got “${raw}”`;
  return null;
}

/** @param copyOf - a run whose settings fill the form ("start a copy with these settings"). */
export function StartRunForm({ copyOf = null }: { copyOf?: string | null }) {
  const { call, me, dataset } = useHub();
  const router = useRouter();
  const [values, setValues] = useState<Record<Key, string>>(
    () => Object.fromEntries(FIELDS.map((f) => [f.key, f.def])) as Record<Key, string>,
  );
  /** Fields whose text the browser cannot read as a number (letters typed into them). */
  const [bad, setBad] = useState<ReadonlySet<Key>>(new Set());
  const [optimizer, setOptimizer] = useState<'sgd' | 'adam'>('sgd');
  const [name, setName] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The chosen optimizer's own settings, not the other's.
  const shown = FIELDS.filter((f) => optimizerReads(optimizer, f.key));

  useEffect(() => {
    if (!copyOf) return;
    const controller = new AbortController();
    apiGet<HttpBodies['GET /api/runs/:id']>(
      `/api/runs/${encodeURIComponent(copyOf)}`,
      controller.signal,
    ).then(
      ({ run }) => {
        const hp = run.hyperparams;
        setValues(
          Object.fromEntries(
            FIELDS.map((f) => [f.key, hp[f.key] === null ? '' : String(hp[f.key])]),
          ) as Record<Key, string>,
        );
        setOptimizer(hp.optimizer);
        setName(`${run.name} (copy)`.slice(0, MAX_RUN_NAME_CHARS));
        setNotice(`Filled in with the settings of “${run.name}”.`);
      },
      (e: Error) =>
        !controller.signal.aborted && setMessage(`Could not read the run to copy: ${e.message}`),
    );
    return () => controller.abort();
  }, [copyOf]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found: Record<string, string> = {};
    const hyperparams: Record<string, unknown> = { optimizer };
    for (const f of shown) {
      const raw = values[f.key].trim();
      const problem = unreadable(f, raw, bad.has(f.key));
      if (problem) found[f.key] = problem;
      else hyperparams[f.key] = raw === '' ? null : Number(raw);
    }
    const payload = { ...(name.trim() ? { name: name.trim() } : {}), hyperparams };
    const parsed = browserSchemas['run:start'].safeParse(payload);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const key = String(issue.path[issue.path.length - 1] ?? 'name');
        if (found[key]) continue;
        const inner =
          issue.path[0] === 'hyperparams' ? { ...issue, path: issue.path.slice(1) } : issue;
        found[key] = describeHyperparamIssue(inner, {
          input: hyperparams,
          label: (field) => LABEL[field] ?? (field === 'name' ? 'Name' : undefined),
        });
      }
    } else if (dataset) {
      // The rules across fields and the data set, at every field that causes each (the hub
      // checks them again against the same data set).
      for (const [path, problem] of Object.entries(
        runStartIssues(parsed.data.hyperparams, dataset),
      )) {
        const key = path.split('.').pop()!;
        found[key] ??= `${LABEL[key]}: ${problem}`;
      }
    }
    setErrors(found);
    if (Object.keys(found).length)
      return setMessage('Some values are not valid: see the fields marked.');
    if (!parsed.success) return;
    setBusy(true);
    const result = await call('run:start', parsed.data);
    setBusy(false);
    if (!result.ok) {
      const details = (result.details ?? {}) as Record<string, string>;
      const fieldOf = (path: string) => path.split('.').pop()!;
      const marked = Object.entries(details).filter(
        ([path]) => shown.some((f) => f.key === fieldOf(path)) || fieldOf(path) === 'name',
      );
      setErrors(
        Object.fromEntries(
          marked.map(([path, v]) => [fieldOf(path), `${LABEL[fieldOf(path)] ?? 'Name'}: ${v}`]),
        ),
      );
      // Errors at their fields say it all; the hub's own message only when none is marked.
      const other = Object.entries(details)
        .filter((entry) => !marked.includes(entry))
        .map(([path, v]) => `${path}: ${v}`);
      setMessage(
        marked.length
          ? 'Nothing was started: see the fields marked.'
          : other.join('; ') || result.message,
      );
      return;
    }
    setMessage(null);
    router.push(`/runs/${result.data.run.id}`);
  };

  return (
    <form className="card start-form" onSubmit={submit} aria-labelledby="start-title" noValidate>
      <h2 id="start-title">Start a run</h2>
      <div className="field">
        <label htmlFor="run-name">Name (optional)</label>
        <input
          id="run-name"
          value={name}
          maxLength={MAX_RUN_NAME_CHARS}
          onChange={(e) => setName(e.target.value)}
          placeholder="e.g. lr 0.05"
          aria-invalid={errors.name ? true : undefined}
        />
        {errors.name ? (
          <span className="field-error" id="err-name">
            {errors.name}
          </span>
        ) : null}
      </div>
      <div className="grid-fields">
        <div className="field">
          <label htmlFor="hp-optimizer">Optimizer</label>
          <select
            id="hp-optimizer"
            value={optimizer}
            onChange={(e) => setOptimizer(e.target.value as 'sgd' | 'adam')}
          >
            {Object.entries(OPTIMIZER_LABELS).map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </div>
        {shown.map((f) => (
          <div className="field" key={f.key}>
            <label htmlFor={`hp-${f.key}`}>{f.label}</label>
            <input
              id={`hp-${f.key}`}
              name={f.key}
              type="number"
              step={f.int ? 1 : 'any'}
              {...bounds(f.key)}
              inputMode={f.int ? 'numeric' : 'decimal'}
              placeholder={f.optional?.(dataset)}
              value={values[f.key]}
              aria-invalid={errors[f.key] ? true : undefined}
              aria-describedby={errors[f.key] ? `err-${f.key}` : undefined}
              onChange={(e) => {
                const { value, validity } = e.target;
                setValues((v) => ({ ...v, [f.key]: value }));
                setBad((s) => {
                  const next = new Set(s);
                  if (validity.badInput) next.add(f.key);
                  else next.delete(f.key);
                  return next;
                });
                if (errors[f.key]) setErrors(({ [f.key]: _gone, ...rest }) => rest);
              }}
            />
            {errors[f.key] ? (
              <span className="field-error" id={`err-${f.key}`}>
                {errors[f.key]}
              </span>
            ) : null}
          </div>
        ))}
      </div>
      {notice ? (
        <p className="muted small" data-testid="form-notice">
          {notice}
        </p>
      ) : null}
      <FormError message={message} />
      <button type="submit" disabled={busy || !me}>
        {busy ? 'Starting…' : 'Start run'}
      </button>
    </form>
  );
}
