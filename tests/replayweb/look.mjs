// Opens pages in headless Chromium and reports how they rendered, as JSON on stdout, for
// tests/e2e/test_replay_requisites.py to judge: the live sample page, its pywb replay, its
// ReplayWeb.page replay.
//
// Usage: node look.mjs '<json>' where json is
//   {"chromium": path, "profile": dir, "timeoutMs": n, "width": px, "height": px,
//    "targets": [{"name": text, "url": url, "frameUrl": text or null, "screenshot": png or null}]}
// A target with frameUrl is a page that embeds the replayed page in a frame whose URL contains
// frameUrl (ReplayWeb.page); the checks run in that frame.  Prints {"targets": {name: {
//   "url", "h1": {color, fontFamily, fontWeight}, "fontCheck", "fonts": [{family, status}],
//   "images": [{src, naturalWidth, complete}], "stylesheets": [href], "requests": [url]} or null},
//  "console": [errors]}.  Nothing here decides pass or fail.
import { chromium } from "playwright-core";

const opts = JSON.parse(process.argv[2]);
const context = await chromium.launchPersistentContext(opts.profile, {
  executablePath: opts.chromium,
  headless: true,
  viewport: { width: opts.width, height: opts.height },
  deviceScaleFactor: 1,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--font-render-hinting=none",
    // The sample site's CDN host name goes to its loopback address; every other name fails.
    "--host-resolver-rules=MAP cdn.sample.test 127.0.0.2, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
  ],
});
context.setDefaultTimeout(opts.timeoutMs);

const consoleErrors = [];
// Every request any page, frame or service worker of the context made, by the target open then.
let requests = [];
context.on("request", (request) => requests.push(request.url()));

async function frameWhere(page, text, deadline) {
  while (Date.now() < deadline) {
    const frame = page.frames().find((f) => f.url().includes(text));
    if (frame) return frame;
    await page.waitForTimeout(100);
  }
  return null;
}

// Runs in the page: true once the web fonts settled and every <img> of the article finished.
function settled() {
  const imgs = [...document.querySelectorAll("article img")];
  return document.readyState === "complete" && document.fonts.status === "loaded"
    && imgs.every((img) => img.complete);
}

function report() {
  const h1 = document.querySelector("article h1") || document.querySelector("h1");
  const style = h1 ? getComputedStyle(h1) : null;
  return {
    url: location.href,
    h1: style && { color: style.color, fontFamily: style.fontFamily, fontWeight: style.fontWeight },
    fontCheck: document.fonts.check('700 34px "Herald Serif"'),
    fonts: [...document.fonts].map((f) => ({ family: f.family, status: f.status })),
    images: [...document.querySelectorAll("article img")].map((img) => ({
      src: img.currentSrc || img.src,
      naturalWidth: img.naturalWidth,
      complete: img.complete,
    })),
    stylesheets: [...document.styleSheets].map((s) => s.href).filter(Boolean),
  };
}

async function look(target) {
  const deadline = Date.now() + opts.timeoutMs;
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error") consoleErrors.push(`${target.name}: ${msg.text()}`);
  });
  await page.goto(target.url, { waitUntil: "load" });
  const frame = target.frameUrl ? await frameWhere(page, target.frameUrl, deadline) : page.mainFrame();
  if (!frame) {
    consoleErrors.push(`${target.name}: no frame with ${target.frameUrl}`);
    return null;
  }
  await frame.waitForLoadState("load");
  // Lazy images load when they come near the viewport: scroll through the page, then back.
  await frame.evaluate(async () => {
    for (let y = 0; y < document.documentElement.scrollHeight; y += 400) {
      window.scrollTo(0, y);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    window.scrollTo(0, 0);
  });
  try {
    await frame.waitForFunction(settled, null, { timeout: Math.max(1, deadline - Date.now()) });
  } catch (error) {
    consoleErrors.push(`${target.name}: not settled: ${error.message.split("\n")[0]}`);
  }
  await frame.evaluate(() => document.fonts.ready);
  const seen = await frame.evaluate(report);
  if (target.screenshot) {
    await page.screenshot({ path: target.screenshot, fullPage: true, animations: "disabled" });
  }
  await page.close();
  return seen;
}

const result = { targets: {}, console: consoleErrors };
try {
  for (const target of opts.targets) {
    requests = [];
    try {
      result.targets[target.name] = await look(target);
    } catch (error) {
      consoleErrors.push(`${target.name}: ${error.message.split("\n")[0]}`);
      result.targets[target.name] = null;
    }
    if (result.targets[target.name]) result.targets[target.name].requests = [...requests];
  }
} finally {
  await context.close();
}
process.stdout.write(JSON.stringify(result) + "\n");
