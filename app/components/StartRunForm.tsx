'use client';
/**
 * Start a run: the tutorial's hyperparameters as defaults, validated in the browser with the
 * protocol's own schema before sending, field errors from the hub shown next to their fields.
 */
import { useRouter } from 'next/navigation';
import { useEffect, useState, type FormEvent } from 'react';
import { browserSchemas, type HttpBodies } from '../../server/protocol';
import { apiGet } from '../lib/api';
import { useHub } from '../lib/HubProvider';

const FIELDS = [
  { key: 'epochs', label: 'Epochs', step: '1', def: '1' },
  { key: 'batchSize', label: 'Batch size', step: '1', def: '32' },
  { key: 'learningRate', label: 'Learning rate', step: 'any', def: '0.01' },
  { key: 'momentum', label: 'Momentum', step: 'any', def: '0.5' },
  { key: 'seed', label: 'Seed', step: '1', def: '1' },
  { key: 'trainLimit', label: 'Training digits (empty = all 60,000)', step: '1', def: '' },
  { key: 'testLimit', label: 'Test digits (empty = all 10,000)', step: '1', def: '' },
] as const;

type Key = (typeof FIELDS)[number]['key'];

/** @param copyOf - a run whose settings fill the form ("start a copy with these settings"). */
export function StartRunForm({ copyOf = null }: { copyOf?: string | null }) {
  const { call, me } = useHub();
  const router = useRouter();
  const [values, setValues] = useState<Record<Key, string>>(() => Object.fromEntries(FIELDS.map((f) => [f.key, f.def])) as Record<Key, string>);
  const [optimizer, setOptimizer] = useState<'sgd' | 'adam'>('sgd');
  const [name, setName] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    if (!copyOf) return;
    const controller = new AbortController();
    apiGet<HttpBodies['GET /api/runs/:id']>(`/api/runs/${encodeURIComponent(copyOf)}`, controller.signal).then(
      ({ run }) => {
        const hp = run.hyperparams;
        setValues(Object.fromEntries(FIELDS.map((f) => [f.key, hp[f.key] === null ? '' : String(hp[f.key])])) as Record<Key, string>);
        setOptimizer(hp.optimizer);
        setName(`${run.name} (copy)`.slice(0, 120));
        setNotice(`Filled in with the settings of “${run.name}”.`);
      },
      (e: Error) => !controller.signal.aborted && setMessage(`Could not read the run to copy: ${e.message}`),
    );
    return () => controller.abort();
  }, [copyOf]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const hyperparams: Record<string, unknown> = { optimizer };
    for (const f of FIELDS) {
      const raw = values[f.key].trim();
      hyperparams[f.key] = raw === '' ? (f.key === 'trainLimit' || f.key === 'testLimit' ? null : undefined) : Number(raw);
    }
    const payload = { ...(name.trim() ? { name: name.trim() } : {}), hyperparams };
    const parsed = browserSchemas['run:start'].safeParse(payload);
    if (!parsed.success) {
      setErrors(Object.fromEntries(parsed.error.issues.map((i) => [String(i.path[i.path.length - 1]), i.message])));
      setMessage('Some values are not valid.');
      return;
    }
    setErrors({});
    setBusy(true);
    const result = await call('run:start', parsed.data);
    setBusy(false);
    if (!result.ok) {
      const details = (result.details ?? {}) as Record<string, string>;
      setErrors(Object.fromEntries(Object.entries(details).map(([k, v]) => [k.split('.').pop()!, v])));
      setMessage(result.message);
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
        <input id="run-name" value={name} maxLength={120} onChange={(e) => setName(e.target.value)} placeholder="e.g. lr 0.05" />
      </div>
      <div className="grid-fields">
        {FIELDS.map((f) => (
          <div className="field" key={f.key}>
            <label htmlFor={`hp-${f.key}`}>{f.label}</label>
            <input
              id={`hp-${f.key}`}
              name={f.key}
              type="number"
              step={f.step}
              inputMode="decimal"
              value={values[f.key]}
              aria-invalid={errors[f.key] ? true : undefined}
              aria-describedby={errors[f.key] ? `err-${f.key}` : undefined}
              onChange={(e) => setValues((v) => ({ ...v, [f.key]: e.target.value }))}
            />
            {errors[f.key] ? (
              <span className="field-error" id={`err-${f.key}`}>
                {errors[f.key]}
              </span>
            ) : null}
          </div>
        ))}
        <div className="field">
          <label htmlFor="hp-optimizer">Optimizer</label>
          <select id="hp-optimizer" value={optimizer} onChange={(e) => setOptimizer(e.target.value as 'sgd' | 'adam')}>
            <option value="sgd">SGD with momentum</option>
            <option value="adam">Adam</option>
          </select>
        </div>
      </div>
      {notice ? (
        <p className="muted small" data-testid="form-notice">
          {notice}
        </p>
      ) : null}
      {message ? (
        <p className="form-error" role="alert">
          {message}
        </p>
      ) : null}
      <button type="submit" disabled={busy || !me}>
        {busy ? 'Starting…' : 'Start run'}
      </button>
    </form>
  );
}
