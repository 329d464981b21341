/**
 * The browser side of bench/chart: a Chromium page on a run, instrumented by an init script
 * that runs before the dashboard's own code. It installs `__livetrainDrawProbe` (see
 * app/charts/batchView.ts) to time every batch-chart redraw, taps the WebSocket to time and
 * size the `run:watch` answer, and on request records every animation frame's interval and
 * the long tasks. Everything is kept in `window.__bench` and read back with one evaluate.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = process.env.LIVETRAIN_CHROMIUM ?? '/usr/bin/chromium';
/** Chromium flags for a closed network and a root user, as test/helpers/browser.ts uses. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Debian's Chromium (or $LIVETRAIN_CHROMIUM) headless, signals left to the bench's own cleanup. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: FLAGS,
    handleSIGINT: false,
    handleSIGTERM: false,
  });
}

/** Where the benches look for Chromium. */
export const CHROMIUM_PATH = CHROMIUM;

/**
 * The charts whose points count as shown: loss and accuracy, which follow every frame. (The
 * learning-rate and samples/s charts follow new points once a second by design; their redraws
 * are in the per-frame times all the same, since the draw probe sees every chart's.)
 */
const CAPTIONS = ['loss-chart', 'accuracy-chart'].map((id) => `[data-testid="${id}"] .lt-caption`);

/**
 * The init script, as text: Playwright serialises functions with `toString()`, and the names
 * tsx's transform adds to functions would not exist in the page. `__EXPECT__` is replaced by
 * the number of points the first render must show.
 */
const INIT_SCRIPT = `(() => {
  const expect = __EXPECT__;
  const captions = ${JSON.stringify(CAPTIONS)};
  const b = (window.__bench = { rangeSent: [], rawAt: null, draws: [], frames: [], longTasks: [], recording: false, firstDraw: null, firstRender: null, firstFrame: null, watchSent: null, snapshot: null, bigMsg: null, rxChars: 0 });
  localStorage.setItem('livetrain.name', 'bench');
  const shown = () => {
    let n = Infinity;
    for (const sel of captions) {
      // The caption's first child is its text; a <title> (the tooltip) follows it.
      const m = /([\\d,]+) points?/.exec(document.querySelector(sel)?.firstChild?.nodeValue ?? '');
      n = Math.min(n, m ? Number(m[1].replace(/,/g, '')) : -1);
    }
    return n;
  };
  // [frame time, draw ms, Date.now(), points both charts show]; one entry per chart redraw.
  window.__livetrainDrawProbe = (ms) => {
    const now = performance.now();
    const frame = document.timeline.currentTime;
    const n = shown();
    b.draws.push([frame, ms, Date.now(), n]);
    // A zoomed loss chart drawn from the raw points of its detail (the zoom bench).
    if (b.rawAt === null && (document.querySelector(captions[0])?.firstChild?.nodeValue ?? '').includes('(raw)') && b.rangeSent.length) b.rawAt = now;
    if (b.firstDraw === null) b.firstDraw = now;
    if (b.firstRender === null && n >= expect) {
      b.firstRender = now;
      b.firstFrame = frame;
    }
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener('message', (e) => {
        // Binary messages (the snapshot's attachments) count by their bytes.
        if (typeof e.data !== 'string') {
          const bytes = e.data.byteLength ?? e.data.size ?? 0;
          b.rxChars += bytes;
          if (b.snapshot && b.snapshot.pending > 0) {
            b.snapshot.chars += bytes;
            if (--b.snapshot.pending === 0) b.snapshot.at = performance.now();
          }
          return;
        }
        b.rxChars += e.data.length;
        // The first ack after run:watch went out is the snapshot: Engine.IO "4" + Socket.IO "3<id>[…]",
        // or "6<n>-<id>[…]" followed by n binary attachments (protocol 2).
        const ack = b.watchSent !== null && b.snapshot === null && /^4(3|6(\\d+)-)/.exec(e.data);
        if (ack) {
          const pending = ack[2] ? Number(ack[2]) : 0;
          b.snapshot = { at: pending ? NaN : performance.now(), chars: e.data.length, pending };
          b.bigMsg = e.data;
        }
      });
    }
    send(data) {
      if (b.watchSent === null && typeof data === 'string' && data.includes('"run:watch"')) b.watchSent = performance.now();
      if (typeof data === 'string' && data.includes('"run:series"')) b.rangeSent.push(performance.now());
      return super.send(data);
    }
  };
  new PerformanceObserver((list) => {
    if (b.recording) for (const e of list.getEntries()) b.longTasks.push(e.duration);
  }).observe({ type: 'longtask' });
  b.start = () => {
    b.draws = [];
    b.frames = [];
    b.longTasks = [];
    b.rxChars = 0;
    b.recording = true;
    let prev = null;
    const loop = (t) => {
      if (!b.recording) return;
      if (prev !== null) b.frames.push(t - prev);
      prev = t;
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  };
  b.shown = shown;
})();`;

/** One chart redraw: [frame time, draw ms, Date.now(), points both charts show]. */
export type Draw = [number, number, number, number];

/** Time to first render and where it went, all in ms from navigation start. */
export interface FirstRender {
  /** Both batch charts show every point (end of the redraw that got there). */
  total: number;
  responseEnd: number;
  domContentLoaded: number;
  /** The page's socket sent `run:watch` (connected, said hello). */
  watchSent: number;
  /** The snapshot's last byte reached the page's main thread. */
  snapshotAt: number;
  /** Size of the snapshot message (characters = bytes for this ASCII JSON). */
  snapshotBytes: number;
  /** JSON.parse of that message alone, timed afterwards in the same page. */
  parseMs: number;
  /** Both charts' redraws in the frame that first showed every point. */
  fullDrawMs: number;
  heapMB: number;
}

/** What the page recorded while points streamed in. */
export interface Recording {
  draws: Draw[];
  frames: number[];
  longTasks: number[];
  rxBytes: number;
  captions: string[];
}

/** A page on one run in a fresh context (viewport 1280×800, nothing cached). */
export class ChartPage {
  /** Page errors and failed requests, for the message when the charts never fill. */
  private readonly problems: string[] = [];
  private constructor(
    readonly page: Page,
    private readonly close_: () => Promise<void>,
  ) {
    page.on('pageerror', (e) => this.problems.push(`page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && this.problems.push(`console: ${m.text()}`));
    page.on(
      'response',
      (r) => r.status() >= 400 && this.problems.push(`HTTP ${r.status()} ${r.url()}`),
    );
  }

  /** Opens a context with the instrumentation installed; `expect` is the point count to wait for. */
  static async open(browser: Browser, expect: number): Promise<ChartPage> {
    // The hub's CSP forbids eval, which Playwright's string expressions use: the bench's own page scripts are let through.
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      bypassCSP: true,
    });
    await context.addInitScript({ content: INIT_SCRIPT.replace('__EXPECT__', String(expect)) });
    const page = await context.newPage();
    return new ChartPage(page, () => context.close());
  }

  /** Navigates to the run and waits until both batch charts show every point. */
  async firstRender(url: string, runId: string): Promise<FirstRender> {
    await this.page.goto(`${url}/runs/${encodeURIComponent(runId)}`, { waitUntil: 'commit' });
    try {
      await this.page.waitForFunction('window.__bench.firstRender !== null', null, {
        timeout: 180_000,
        polling: 200,
      });
    } catch (error) {
      // A 404 on /_next/ chunks usually means someone rebuilt the dashboard under the running hub.
      const shown = await this.page.evaluate('window.__bench?.shown?.()').catch(() => '?');
      throw new Error(
        `${(error as Error).message}\ncharts show ${shown} points; ${this.problems.slice(0, 10).join('\n') || 'no page errors'}`,
        { cause: error },
      );
    }
    return (await this.page.evaluate(`(() => {
      const b = window.__bench;
      const nav = performance.getEntriesByType('navigation')[0];
      const s = b.bigMsg ?? '';
      const t = performance.now();
      if (s) JSON.parse(s.slice(s.indexOf('[')));
      const parseMs = performance.now() - t;
      b.bigMsg = null;
      let fullDrawMs = 0;
      for (const d of b.draws) if (d[0] === b.firstFrame) fullDrawMs += d[1];
      return { total: b.firstRender, responseEnd: nav?.responseEnd ?? NaN, domContentLoaded: nav?.domContentLoadedEventEnd ?? NaN,
        watchSent: b.watchSent ?? NaN, snapshotAt: b.snapshot?.at ?? NaN, snapshotBytes: b.snapshot?.chars ?? NaN, parseMs, fullDrawMs,
        heapMB: (performance.memory?.usedJSHeapSize ?? NaN) / 1048576 };
    })()`)) as FirstRender;
  }

  /** Starts recording redraws, frame intervals and long tasks (clears what came before). */
  async startRecording(): Promise<void> {
    await this.page.evaluate('window.__bench.start()');
  }

  /** Waits until both charts show `total` points, then stops recording and returns it all. */
  async stopRecording(total: number): Promise<Recording> {
    await this.page.waitForFunction(`window.__bench.shown() >= ${total}`, null, {
      timeout: 30_000,
      polling: 100,
    });
    // One more second so the last frames after the final point are counted too.
    await this.page.waitForTimeout(1000);
    return (await this.page.evaluate(`(() => {
      const b = window.__bench;
      b.recording = false;
      return { draws: b.draws, frames: b.frames, longTasks: b.longTasks, rxBytes: b.rxChars,
        captions: ${JSON.stringify(CAPTIONS)}.map((s) => document.querySelector(s)?.firstChild?.nodeValue ?? '') };
    })()`)) as Recording;
  }

  /**
   * Zooms the loss chart (wheel at `fraction` of its width) until about `window` steps of
   * `total` are in view, and times from the `run:series` request the chart then sends to the
   * redraw that shows the raw points it answered; double-click resets. Returns ms, one per zoom.
   */
  async zoomTimes(fractions: number[], total: number, window: number): Promise<number[]> {
    const front = this.page.locator('[data-testid="loss-chart"] .lt-chart-front');
    const box = (await front.boundingBox())!;
    const out: number[] = [];
    // d3-zoom: a wheel deltaY of -500 zooms 2×.
    const wheels = Math.max(1, Math.ceil(Math.log2(total / window)));
    for (const f of fractions) {
      await this.page.evaluate('window.__bench.rangeSent = []; window.__bench.rawAt = null');
      const x = box.x + 52 + (box.width - 76) * f;
      await this.page.mouse.move(x, box.y + box.height / 2);
      for (let i = 0; i < wheels; i++) await this.page.mouse.wheel(0, -500);
      await this.page.waitForFunction('window.__bench.rawAt !== null', null, {
        timeout: 30_000,
        polling: 20,
      });
      const t = (await this.page.evaluate(
        '(() => { const b = window.__bench; return b.rawAt - b.rangeSent[b.rangeSent.length - 1]; })()',
      )) as number;
      out.push(t);
      await front.dblclick({ position: { x: box.width / 2, y: box.height / 2 } });
      await this.page.waitForTimeout(300);
    }
    return out;
  }

  /** Closes the page's browser context. */
  async close(): Promise<void> {
    await this.close_();
  }
}
