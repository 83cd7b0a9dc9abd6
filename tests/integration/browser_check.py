#!/usr/bin/python3
"""Open a strata HTML report in headless Chromium (through chromedriver) and
check that it loads without errors and that its charts are there.

usage: browser_check.py FILE.html --min-charts N [--kinds line,bar,...]
                        [--screenshots DIR] [--timeout S]

Checks: the page loads from a file:// URL with the network off (no request
leaves the page: everything is inline); the browser console holds no
error; there are at least N <svg class="strata-chart"> elements, each laid
out with a non-zero size, a <title>, a legend entry and, except heat maps,
axis tick labels; the kinds asked for are all present.  Screenshots of the
page, one per screen height, go to DIR (page-00.png, ...), to be looked at.
Exits 0 when every check passes, 1 with the reason otherwise, 77 when
Chromium or chromedriver is missing (ctest: skipped).
"""
import argparse
import os
import shutil
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("html")
    ap.add_argument("--min-charts", type=int, default=1)
    ap.add_argument("--kinds", default="")
    ap.add_argument("--screenshots", default="")
    ap.add_argument("--timeout", type=int, default=60)
    a = ap.parse_args()

    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(driver_path) or not os.path.exists(browser):
        print("browser_check: SKIP: chromium or chromedriver not installed")
        return 77
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        print("browser_check: SKIP: python3-selenium not installed")
        return 77

    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1000", "--hide-scrollbars",
                # no network: a report that needs one fails to render, and we see it
                "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    drv.set_page_load_timeout(a.timeout)
    try:
        drv.get("file://" + os.path.abspath(a.html))
        state = drv.execute_script("return document.readyState")
        if state != "complete":
            return fail("page did not finish loading (%s)" % state)
        errors = [e for e in drv.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")]
        if errors:
            return fail("console errors: %s" % errors)
        external = drv.execute_script(
            "return Array.from(document.querySelectorAll('[src],[href]'))"
            ".map(e => e.getAttribute('src') || e.getAttribute('href'))"
            ".filter(u => /^(https?:)?\\/\\//.test(u))")
        if external:
            return fail("the page refers to external resources: %s" % external)
        charts = drv.execute_script("""
            return Array.from(document.querySelectorAll('svg.strata-chart')).map(s => {
              const r = s.getBoundingClientRect();
              return {kind: s.dataset.kind, w: r.width, h: r.height,
                      title: (s.querySelector('title') || {}).textContent || '',
                      legend: s.querySelectorAll('.legend-entry').length,
                      texts: s.querySelectorAll('text').length,
                      marks: s.querySelectorAll('polyline,rect.cell,g.series').length};
            });""")
        if len(charts) < a.min_charts:
            return fail("%d chart(s), expected at least %d" % (len(charts), a.min_charts))
        for i, c in enumerate(charts):
            what = "chart %d (%s, %r)" % (i + 1, c["kind"], c["title"])
            if c["w"] < 100 or c["h"] < 100:
                return fail("%s is not laid out: %gx%g" % (what, c["w"], c["h"]))
            if not c["title"]:
                return fail("%s has no title" % what)
            if c["legend"] < 1:
                return fail("%s has no legend" % what)
            if c["kind"] != "heatmap" and c["texts"] < 6:
                return fail("%s has no axis labels" % what)
            if c["marks"] < 1:
                return fail("%s draws nothing" % what)
        kinds = {c["kind"] for c in charts}
        for k in filter(None, a.kinds.split(",")):
            if k not in kinds:
                return fail("no %s chart (have %s)" % (k, sorted(kinds)))
        if a.screenshots:
            os.makedirs(a.screenshots, exist_ok=True)
            height = drv.execute_script("return document.documentElement.scrollHeight")
            view = drv.execute_script("return window.innerHeight")
            y, n = 0, 0
            while y < height and n < 40:
                drv.execute_script("window.scrollTo(0, %d)" % y)
                drv.save_screenshot(os.path.join(a.screenshots, "page-%02d.png" % n))
                y += view
                n += 1
        print("browser_check: OK: %s: %d chart(s) (%s), no console errors"
              % (a.html, len(charts), ", ".join(sorted(kinds))))
        return 0
    finally:
        drv.quit()


def fail(msg):
    print("browser_check: FAIL: " + msg, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
