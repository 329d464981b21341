'use client';
/** The run page's per-epoch section: the tutorial's train vs test plots and the table of epochs. */
import type { RunSummary, WireEpoch } from '../../server/protocol';
import { EpochChart } from '../charts/EpochChart';
import { ChartBox, chartFileName } from './CurvesPanel';
import { fmtNum, fmtPct } from './format';

export function EpochSection({ run, epochs }: { run: RunSummary; epochs: WireEpoch[] }) {
  const epochSeries = [{ id: run.id, label: run.name, colour: '#0969da', epochs }];
  return (
    <section className="card" aria-labelledby="epochs-title">
      <h2 id="epochs-title">Per epoch: train vs test</h2>
      {epochs.length === 0 ? (
        <p className="muted">The first epoch's results appear when it ends.</p>
      ) : null}
      <div className="chart-pair">
        <ChartBox
          testId="epoch-loss-chart"
          title="Loss"
          exportName={chartFileName(run, 'epoch-loss')}
        >
          <EpochChart series={epochSeries} metric="loss" />
        </ChartBox>
        <ChartBox
          testId="epoch-accuracy-chart"
          title="Accuracy"
          exportName={chartFileName(run, 'epoch-accuracy')}
        >
          <EpochChart series={epochSeries} metric="accuracy" />
        </ChartBox>
      </div>
      {epochs.length ? (
        <div className="table-scroll">
          <table className="epoch-table">
            <thead>
              <tr>
                <th scope="col">Epoch</th>
                <th scope="col">Train loss</th>
                <th scope="col">Train accuracy</th>
                <th scope="col">Test loss</th>
                <th scope="col">Test accuracy</th>
              </tr>
            </thead>
            <tbody>
              {epochs.map((e) => (
                <tr key={e.epoch}>
                  <td>{e.epoch}</td>
                  <td>{fmtNum(e.trainLoss)}</td>
                  <td>{fmtPct(e.trainAccuracy)}</td>
                  <td>{fmtNum(e.testLoss)}</td>
                  <td>{fmtPct(e.testAccuracy)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
