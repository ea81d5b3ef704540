// Drives `archiver serve` in headless Chromium as a researcher would, and prints what the
// pages showed, as JSON on stdout, for tests/e2e/test_serve_browser.py to judge.
//
// Usage: node serve.mjs '<json>' where json is
//   {"chromium": path, "profile": dir, "timeoutMs": n, "base": "http://127.0.0.1:PORT/",
//    "phrase": words, "seedTitle": text, "from": date, "to": date, "lateFrom": date,
//    "hostileWord": word, "hostileQueries": [text, ...], "csvPath": file,
//    "searchShot": png, "articleShot": png}
// Nothing here decides pass or fail.
import { chromium } from "playwright-core";

const opts = JSON.parse(process.argv[2]);
const context = await chromium.launchPersistentContext(opts.profile, {
  executablePath: opts.chromium,
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1280, height: 900 },
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
  ],
});
context.setDefaultTimeout(opts.timeoutMs);
const dialogs = [];
const errors = [];
const page = await context.newPage();
page.on("dialog", async (dialog) => {
  dialogs.push(dialog.message());
  await dialog.dismiss();
});
page.on("pageerror", (error) => errors.push(String(error)));

const texts = (selector) =>
  page.$$eval(selector, (nodes) => nodes.map((n) => n.innerText.trim()));

async function search(query) {
  if (query.length > 400) {
    // Past the box's maxlength: straight to the URL a script or a shared link would use.
    const response = await page.goto(`${opts.base}?q=${encodeURIComponent(query)}`);
    return response.status();
  }
  await page.goto(opts.base);
  await page.fill("header input[name=q]", query);
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.press("header input[name=q]", "Enter"),
  ]);
  return response.status();
}

const result = {};
try {
  // 1. A phrase from the seed article: the first hit and its snippet.
  await search(`"${opts.phrase}"`);
  result.search = {
    url: page.url(),
    titles: await texts(".hit h3"),
    snippets: await texts(".hit .snippet"),
    marks: await texts(".hit .snippet mark"),
    total: (await texts(".total strong"))[0] ?? "",
  };
  await page.screenshot({ path: opts.searchShot, fullPage: false });

  // 2. Open it: clean text and citation.
  await Promise.all([page.waitForNavigation(), page.click(".hit h3 a >> nth=0")]);
  result.article = {
    url: page.url(),
    title: (await texts("article h1"))[0] ?? "",
    text: (await texts("article .text"))[0] ?? "",
    citation: (await texts(".citation dl"))[0] ?? "",
    captures: await texts(".captures li"),
    bibtexHref: await page.getAttribute("a[href^='/cite.bib']", "href"),
    recordHref: await page.getAttribute("a[href^='/record']", "href"),
  };
  await page.screenshot({ path: opts.articleShot, fullPage: false });

  // 3. The replay link: our banner, pywb's copy in a frame of another origin.
  await Promise.all([page.waitForNavigation(), page.click("text=Replay the archived page")]);
  result.replay = { banner: (await texts(".banner"))[0] ?? "", frameUrl: null, frameText: "" };
  const frameHandle = await page.$("iframe.replay");
  if (frameHandle) {
    result.replay.sandbox = await frameHandle.getAttribute("sandbox");
    const frame = await frameHandle.contentFrame();
    try {
      await frame.waitForFunction(
        (title) => document.body !== null && document.body.innerText.includes(title),
        opts.seedTitle,
      );
    } catch (error) {
      errors.push(`replay: ${error.message.split("\n")[0]}`);
    }
    result.replay.frameUrl = frame.url();
    result.replay.frameText = await frame.evaluate(() => document.body.innerText);
  }

  // 4. A site facet, then a date range in the filter form.
  await search(`"${opts.phrase}"`);
  const facet = page.locator(".facets section:has(h2:text-is('Site')) a").first();
  result.facet = { label: await facet.innerText() };
  await Promise.all([page.waitForNavigation(), facet.click()]);
  result.facet.url = page.url();
  result.facet.titles = await texts(".hit h3");
  const dated = async (from, to) => {
    await page.fill(".filters input[name=from]", from);
    await page.fill(".filters input[name=to]", to);
    await Promise.all([page.waitForNavigation(), page.click(".filters button[type=submit]")]);
    return { url: page.url(), titles: await texts(".hit h3") };
  };
  result.inRange = await dated(opts.from, opts.to);
  result.outOfRange = await dated(opts.lateFrom, opts.lateFrom);

  // 5. The CSV of the results.
  await search(`"${opts.phrase}"`);
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("text=CSV")]);
  await download.saveAs(opts.csvPath);
  result.csv = download.suggestedFilename();

  // 6. Hostile input: a planted title and text, FTS syntax, a very long query.
  await search(opts.hostileWord);
  result.hostile = {
    titles: await texts(".hit h3"),
    snippets: await texts(".hit .snippet"),
  };
  await Promise.all([page.waitForNavigation(), page.click(".hit h3 a >> nth=0")]);
  result.hostile.articleTitle = (await texts("article h1"))[0] ?? "";
  result.hostile.articleText = (await texts("article .text"))[0] ?? "";
  result.hostile.scripts = await page.$$eval("script", (n) => n.map((s) => s.src));
  result.hostile.injected = await page.$$eval("main img, main b, main script", (n) => n.length);
  result.queries = [];
  for (const query of opts.hostileQueries) {
    const status = await search(query);
    result.queries.push({
      length: query.length,
      status,
      error: (await texts(".error"))[0] ?? "",
      total: (await texts(".total strong"))[0] ?? null,
    });
  }
} catch (error) {
  errors.push(error.message.split("\n")[0]);
} finally {
  await context.close();
}
result.dialogs = dialogs;
result.errors = errors;
process.stdout.write(JSON.stringify(result) + "\n");
