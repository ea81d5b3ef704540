// Opens pages that embed <replay-web-page> in headless Chromium and prints what a reader sees,
// as JSON on stdout, for tests/test_replaywebpage.py to judge.
//
// Usage: node open.mjs '<json>' where json is
//   {"chromium": path, "profile": dir, "timeoutMs": n,
//    "replay": {"page": url, "url": archived url, "waitFor": text},
//    "pages": {"page": url, "appPath": path, "source": WACZ URL, "waitFor": text,
//              "titles": [text, ...]}}
// Prints {"replay": {"frameUrl", "title", "text"} or null, "pages": {"visible": [titles shown],
//         "loaded": [{"url", "ts", "title", "text"}] as ReplayWeb.page read pages.jsonl} or null,
//         "offsite": [urls], "console": [errors]}.
// Nothing here decides pass or fail: it waits up to timeoutMs for `waitFor`, then reports.
import { chromium } from "playwright-core";

const opts = JSON.parse(process.argv[2]);
// Each of the two checks gets timeoutMs of its own.
let deadline = 0;
const left = () => Math.max(1, deadline - Date.now());

const context = await chromium.launchPersistentContext(opts.profile, {
  executablePath: opts.chromium,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    // No name resolves but loopback: nothing the page or the service worker asks for can leave.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
  ],
});

const offsite = new Set();
const consoleErrors = [];
context.on("request", (request) => {
  const url = new URL(request.url());
  if (/^https?:$/.test(url.protocol) && url.hostname !== "127.0.0.1") {
    offsite.add(request.url());
  }
});

async function frameWhere(page, test) {
  while (Date.now() < deadline) {
    const frame = page.frames().find((f) => {
      try {
        return test(new URL(f.url()));
      } catch {
        return false; // a frame that has not started loading has no URL yet
      }
    });
    if (frame) return frame;
    await page.waitForTimeout(100);
  }
  return null;
}

async function openReplay(spec) {
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error") consoleErrors.push(`${msg.text()} (${msg.location().url})`);
  });
  await page.goto(spec.page, { timeout: left() });
  // The replayed page is the innermost frame: /replay/w/<collection>/<timestamp>mp_/<url>.
  const frame = await frameWhere(page, (u) => u.href.includes("mp_/" + spec.url));
  if (!frame) return { frameUrl: null, title: "", text: "" };
  try {
    await frame.waitForFunction(
      (text) => document.body !== null && document.body.innerText.includes(text),
      spec.waitFor,
      { timeout: left() },
    );
  } catch (error) {
    consoleErrors.push(`waiting for the article text: ${error.message.split("\n")[0]}`);
  }
  return {
    frameUrl: frame.url(),
    title: await frame.title(),
    // innerText is the rendered text: what is hidden by CSS is not in it.
    text: await frame.evaluate(() => document.body.innerText),
  };
}

// Which of `texts` are in a rendered text node, shadow roots included.  (Playwright's text
// locators miss ReplayWeb.page's titles: <keyword-mark> holds each one in its light DOM and
// again in its shadow root.)  Runs in the page; returns null when none is shown, for polling.
function shownTexts(texts) {
  const wanted = new Set(texts);
  const found = new Set();
  const walk = (node) => {
    if (node.shadowRoot) walk(node.shadowRoot);
    if (node.nodeType === Node.TEXT_NODE) {
      const text = node.textContent.trim();
      // A text node straight under a shadow root has no parent element: its host stands in.
      const owner = node.parentElement ?? node.parentNode?.host;
      if (wanted.has(text) && owner?.checkVisibility({ visibilityProperty: true })) {
        const range = document.createRange();
        range.selectNodeContents(node);
        const box = range.getBoundingClientRect();
        if (box.width > 0 && box.height > 0) found.add(text);
      }
    }
    for (const child of node.childNodes) walk(child);
  };
  walk(document);
  return found.size ? [...found] : null;
}

async function openPages(spec) {
  const page = await context.newPage();
  await page.goto(spec.page, { timeout: left() });
  // The app runs in the frame the embed opens at its replay base (/replay/?source=...).
  const app = await frameWhere(page, (u) => u.pathname === spec.appPath);
  if (!app) return { visible: [], loaded: null };
  try {
    await app.waitForFunction(shownTexts, [spec.waitFor], { timeout: left() });
  } catch (error) {
    consoleErrors.push(`waiting for the page list: ${error.message.split("\n")[0]}`);
  }
  const visible = (await app.evaluate(shownTexts, spec.titles)) ?? [];
  // The pages as ReplayWeb.page loaded them from pages.jsonl, from the API its own UI reads.
  const loaded = await app.evaluate(async (source) => {
    const api = new URL("w/api/", document.baseURI);
    const index = await (await fetch(new URL("coll-index", api))).json();
    const coll = index.colls.find((c) => c.sourceUrl === source);
    if (!coll) return null;
    const info = await (await fetch(new URL(`c/${coll.id}?all=1`, api))).json();
    return info.pages.map((p) => ({ url: p.url, ts: p.ts, title: p.title, text: p.text }));
  }, spec.source);
  return { visible, loaded };
}

async function check(name, run, spec) {
  deadline = Date.now() + opts.timeoutMs;
  try {
    return await run(spec);
  } catch (error) {
    consoleErrors.push(`${name}: ${error.message.split("\n")[0]}`);
    return null;
  }
}

const result = {};
try {
  result.replay = await check("replay", openReplay, opts.replay);
  result.pages = await check("pages", openPages, opts.pages);
} finally {
  await context.close();
}
result.offsite = [...offsite];
result.console = consoleErrors;
process.stdout.write(JSON.stringify(result) + "\n");
