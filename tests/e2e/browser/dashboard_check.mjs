// Headless-browser check of the dashboard served by `strongroom serve`.
//
//   node dashboard_check.mjs --url http://127.0.0.1:PORT --token TOKEN --screenshot OUT.png
//        [--expect-source NAME ...] [--timing-out FILE] [--timeout-ms MS]
//
// Uses playwright-core (installed in tests/servers/node_modules by `./run test`) driving the
// system Chromium ($CHROMIUM or /usr/bin/chromium), headless and without the sandbox (CI runs as
// root). Checks, in fresh browser contexts:
//   a. `URL/` without a token shows the sign-in form, no status row and makes no API request;
//      typing the token into the form shows the status rows; `URL/#token=WRONG` comes back to
//      the sign-in form with a message and forgets the token;
//   b. `URL/#token=TOKEN` removes the fragment from the address bar, renders one status row per
//      --expect-source (data-source=NAME), a canvas in the size and duration charts and at least
//      one row in the jobs table; every API request carries the bearer token and none carries it
//      in its URL; the first job's log opens in the log dialog;
//   c. no console error or warning, no uncaught exception, no failed or >= 400 request;
//   d. saves a full-page screenshot;
//   e. prints `dashboard: first render N ms` (navigation start until every status row and both
//      chart canvases are visible) and writes N to --timing-out FILE when given.
// Exit status 0 when every check passes, 1 (with the reason on stderr) otherwise.

import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const serversDir = path.resolve(here, '..', '..', 'servers');

class CheckFailed extends Error {}
const fail = (msg) => { throw new CheckFailed(msg); };
const check = (cond, msg) => { if (!cond) fail(msg); };

function usage(msg) {
  if (msg) console.error(`dashboard: ${msg}`);
  console.error('usage: node dashboard_check.mjs --url URL --token TOKEN --screenshot OUT.png '
    + '[--expect-source NAME ...] [--timing-out FILE] [--timeout-ms MS]');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { url: null, token: null, screenshot: null, expect: [], timingOut: null, timeoutMs: 20000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--url') o.url = val().replace(/\/+$/, '');
    else if (a === '--token') o.token = val();
    else if (a === '--screenshot') o.screenshot = val();
    else if (a === '--expect-source') o.expect.push(val());
    else if (a === '--timing-out') o.timingOut = val();
    else if (a === '--timeout-ms') o.timeoutMs = Number(val());
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!o.url || !o.token || !o.screenshot) usage('--url, --token and --screenshot are required');
  if (!(o.timeoutMs > 0)) usage('--timeout-ms must be a positive number');
  return o;
}

function loadPlaywright() {
  const require = createRequire(path.join(serversDir, 'package.json'));
  try {
    return require('playwright-core');
  } catch (e) {
    console.error(`dashboard: cannot load playwright-core from ${serversDir}/node_modules `
      + `(run: npm ci --prefix tests/servers): ${e.message}`);
    process.exit(1);
  }
}

// Records what a page does that the checks look at.
function watch(page, label) {
  const w = { label, console: [], pageErrors: [], failed: [], badStatus: [], api: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      const loc = m.location();
      w.console.push(`${m.type()}: ${m.text()}${loc && loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
    }
  });
  page.on('pageerror', (e) => w.pageErrors.push(String((e && e.stack) || e)));
  page.on('requestfailed', (r) => {
    w.failed.push(`${r.method()} ${r.url()}: ${(r.failure() && r.failure().errorText) || 'failed'}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) w.badStatus.push(`${r.request().method()} ${r.url()}: HTTP ${r.status()}`);
  });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/')) w.api.push({ url: r.url(), auth: r.headers().authorization || '' });
  });
  return w;
}

function assertClean(w, { allowAuthFailures = false } = {}) {
  check(w.pageErrors.length === 0, `${w.label}: uncaught exception in the page:\n  ${w.pageErrors.join('\n  ')}`);
  const consoleMsgs = allowAuthFailures
    ? w.console.filter((m) => !/status of 401/.test(m))
    : w.console;
  check(consoleMsgs.length === 0, `${w.label}: console errors or warnings:\n  ${consoleMsgs.join('\n  ')}`);
  check(w.failed.length === 0, `${w.label}: failed requests:\n  ${w.failed.join('\n  ')}`);
  const bad = allowAuthFailures ? w.badStatus.filter((m) => !/HTTP 401$/.test(m)) : w.badStatus;
  check(bad.length === 0, `${w.label}: requests answered with an error status:\n  ${bad.join('\n  ')}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { chromium } = loadPlaywright();
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  const T = opts.timeoutMs;

  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
  });
  const newPage = async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, deviceScaleFactor: 1 });
    context.setDefaultTimeout(T);
    return { context, page: await context.newPage() };
  };

  try {
    // (a) No token: the sign-in form, no data, no API request.
    {
      const { context, page } = await newPage();
      const w = watch(page, 'without a token');
      await page.goto(`${opts.url}/`, { waitUntil: 'load' });
      await page.locator('[data-testid="signin"]').waitFor({ state: 'visible' })
        .catch(() => fail('without a token: the sign-in form ([data-testid="signin"]) did not appear'));
      check(await page.locator('[data-testid="source-row"]').count() === 0,
        'without a token: status rows are shown');
      check(!(await page.locator('#app-view').isVisible()), 'without a token: the dashboard is visible');
      check(w.api.length === 0, `without a token: the page called the API: ${w.api.map((r) => r.url).join(', ')}`);
      // Signing in through the form shows the dashboard.
      await page.fill('#token-input', opts.token);
      await page.locator('[data-testid="signin"] button[type="submit"]').click();
      await page.locator('[data-testid="source-row"]').first().waitFor({ state: 'visible' })
        .catch(() => fail('signing in through the form did not show the status rows'));
      check(!(await page.locator('[data-testid="signin"]').isVisible()), 'after signing in through the form: the form is still visible');
      await page.waitForLoadState('networkidle');
      assertClean(w);
      await context.close();
    }

    // (a2) A wrong token: the daemon answers 401, the page forgets it and asks again.
    {
      const { context, page } = await newPage();
      const w = watch(page, 'with a wrong token');
      await page.goto(`${opts.url}/#token=${encodeURIComponent(`wrong-${opts.token}`)}`, { waitUntil: 'load' });
      await page.locator('[data-testid="signin"]').waitFor({ state: 'visible' })
        .catch(() => fail('with a wrong token: the sign-in form did not come back'));
      await page.locator('#signin-message').waitFor({ state: 'visible' })
        .catch(() => fail('with a wrong token: the sign-in form shows no message'));
      check(await page.evaluate(() => sessionStorage.getItem('strongroom.token')) === null,
        'with a wrong token: the refused token is still in sessionStorage');
      check(!page.url().includes('#'), `with a wrong token: the fragment is still in the URL: ${page.url()}`);
      assertClean(w, { allowAuthFailures: true });
      await context.close();
    }

    // (b) With the token.
    const { context, page } = await newPage();
    const w = watch(page, 'with the token');
    await page.goto(`${opts.url}/#token=${encodeURIComponent(opts.token)}`, { waitUntil: 'commit' });

    // First render: every status row and both chart canvases visible. performance.now() counts
    // from the navigation start of this document.
    const expected = opts.expect;
    let firstRenderMs;
    try {
      const handle = await page.waitForFunction((names) => {
        const visible = (el) => {
          if (!el) return false;
          const r = el.getBoundingClientRect();
          return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
        };
        const rows = [...document.querySelectorAll('[data-testid="source-row"]')];
        if (rows.length === 0 || !rows.every(visible)) return false;
        for (const n of names) if (!rows.some((r) => r.dataset.source === n)) return false;
        const charts = ['size-chart', 'duration-chart']
          .map((id) => document.querySelector(`[data-testid="${id}"] canvas`));
        if (!charts.every(visible)) return false;
        return performance.now();
      }, expected, { polling: 'raf', timeout: T });
      firstRenderMs = Math.round(await handle.jsonValue());
    } catch (e) {
      const rows = await page.locator('[data-testid="source-row"]').evaluateAll((els) => els.map((e) => e.dataset.source));
      const sizeCanvas = await page.locator('[data-testid="size-chart"] canvas').count();
      const durCanvas = await page.locator('[data-testid="duration-chart"] canvas').count();
      const signin = await page.locator('[data-testid="signin"]').isVisible();
      fail(`with the token: the dashboard did not render within ${T} ms `
        + `(status rows: [${rows.join(', ')}], expected: [${expected.join(', ')}]; `
        + `size chart canvases: ${sizeCanvas}; duration chart canvases: ${durCanvas}; `
        + `sign-in form visible: ${signin}; console: ${w.console.join(' | ') || 'none'}; `
        + `page errors: ${w.pageErrors.join(' | ') || 'none'})`);
    }

    check(!page.url().includes('#') && !page.url().includes(opts.token),
      `with the token: the fragment was not removed from the URL: ${page.url()}`);
    check(await page.evaluate(() => location.hash) === '', 'with the token: location.hash is not empty');
    check(!(await page.locator('[data-testid="signin"]').isVisible()), 'with the token: the sign-in form is still visible');

    for (const name of expected) {
      const n = await page.locator(`[data-testid="source-row"][data-source="${name.replace(/["\\]/g, '\\$&')}"]`).count();
      check(n === 1, `with the token: expected one status row for source "${name}", found ${n}`);
    }
    for (const id of ['size-chart', 'duration-chart']) {
      check(await page.locator(`[data-testid="${id}"] canvas`).first().isVisible(),
        `with the token: [data-testid="${id}"] has no visible canvas`);
    }

    const jobRows = page.locator('[data-testid="jobs-table"] tbody tr[data-testid="job-row"]');
    await jobRows.first().waitFor({ state: 'visible' })
      .catch(() => fail('with the token: the jobs table ([data-testid="jobs-table"]) has no row'));
    for (const id of ['alerts', 'repositories']) {
      check(await page.locator(`[data-testid="${id}"]`).isVisible(), `with the token: [data-testid="${id}"] is not visible`);
    }
    // The remaining panels have had their answers (no "Loading").
    await page.waitForFunction(() => document.querySelector('#alerts-body').childElementCount > 0
      && document.querySelector('#repos-body').childElementCount > 0
      && document.querySelector('#rt-body').childElementCount > 0
      && !/Loading/.test(document.querySelector('#size-note').textContent))
      .catch(() => fail('with the token: alerts, repositories or restore tests never rendered'));

    // Laptop width: nothing wider than the window.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `with the token: the page is ${overflow} px wider than a 1366 px window`);

    // (d) Screenshot of the whole page, before the log dialog opens.
    await page.evaluate(() => document.fonts && document.fonts.ready);
    await page.screenshot({ path: opts.screenshot, fullPage: true });

    // The first job's log opens in the dialog.
    await jobRows.locator('[data-testid="job-log-link"]').first().click()
      .catch(() => fail('with the token: no job row has a log link'));
    await page.locator('[data-testid="job-log"][data-state="loaded"]').waitFor({ state: 'visible' })
      .catch(() => fail('with the token: the job log did not load into [data-testid="job-log"]'));
    await page.keyboard.press('Escape');
    await page.locator('[data-testid="job-log"]').waitFor({ state: 'hidden' })
      .catch(() => fail('with the token: the log dialog did not close on Escape'));

    // Every API request authenticated by header, none with the token in its URL.
    check(w.api.length > 0, 'with the token: the page made no API request');
    for (const r of w.api) {
      check(r.auth === `Bearer ${opts.token}`, `with the token: ${r.url} was sent without the bearer token`);
      check(!r.url.includes(encodeURIComponent(opts.token)) && !r.url.includes(opts.token),
        `with the token: ${r.url} carries the token in its URL`);
    }

    // (c) A clean console.
    assertClean(w);
    await context.close();

    // (e) Timing.
    console.log(`dashboard: first render ${firstRenderMs} ms`);
    if (opts.timingOut) writeFileSync(opts.timingOut, `${firstRenderMs}\n`);
    console.log(`dashboard: ok (${expected.length} expected source${expected.length === 1 ? '' : 's'}, `
      + `screenshot ${opts.screenshot})`);
  } finally {
    await browser.close();
  }
}

// A hung browser must not hang the test suite.
const guard = setTimeout(() => {
  console.error('dashboard: FAIL: the check did not finish within 180 s');
  process.exit(1);
}, 180000);
guard.unref();

main().then(() => process.exit(0), (e) => {
  if (e instanceof CheckFailed) console.error(`dashboard: FAIL: ${e.message}`);
  else console.error(`dashboard: FAIL: ${(e && e.stack) || e}`);
  process.exit(1);
});
