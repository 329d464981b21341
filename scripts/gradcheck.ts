import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../server/trainer/backend';
import { loadMnist } from '../server/trainer/data/mnist';
import { createModel, nllLoss } from '../server/trainer/model';
import { makeBatch } from '../server/trainer/evaluate';
const data = await loadMnist({ trainLimit: 64 });
const res: Record<string, Record<string, number[]>> = {};
for (const b of ['cpu', 'wasm'] as const) {
  await initBackend(b);
  const model = createModel(1);
  const batch = makeBatch(data.train, Array.from({ length: 16 }, (_, i) => i));
  const { value, grads } = tf.variableGrads(() => nllLoss(model.forward(batch.x), batch.oneHot));
  res[b] = {};
  console.log(b, 'loss', value.dataSync()[0], Object.keys(grads));
  for (const [k, g] of Object.entries(grads)) res[b][k.split("#")[0]] = Array.from(g.dataSync().slice(0, 4)).concat([tf.norm(g).dataSync()[0]]);
}
for (const k of Object.keys(res.cpu)) console.log(k, res.cpu[k].map(v => v.toFixed(5)).join(' '), '|', (res.wasm[k] ?? []).map(v => v.toFixed(5)).join(' '));
