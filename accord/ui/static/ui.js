// accord ui: hover tips for chart marks, and an optional refresh of the page's content.
// Text goes in with textContent only: ledger text (model output) never becomes markup here.
"use strict";
(function () {
  const tip = () => document.getElementById("tip");

  function showTip(target, x, y) {
    const box = tip();
    box.textContent = target.getAttribute("data-tip");
    box.hidden = false;
    const w = box.offsetWidth, h = box.offsetHeight;
    box.style.left = Math.min(x + 14, window.innerWidth - w - 8) + "px";
    box.style.top = (y + h + 20 > window.innerHeight ? y - h - 10 : y + 16) + "px";
  }

  function highlight(target, on) {
    const name = target.getAttribute("data-strategy");
    if (!name) return;
    target.classList.toggle("hl", on);
    for (const row of document.querySelectorAll("tr[data-strategy]")) {
      if (row.getAttribute("data-strategy") === name) row.classList.toggle("hl", on);
    }
  }

  document.addEventListener("mouseover", (e) => {
    const t = e.target.closest("[data-tip]");
    if (t) { showTip(t, e.clientX, e.clientY); highlight(t, true); }
  });
  document.addEventListener("mousemove", (e) => {
    const t = e.target.closest("[data-tip]");
    if (t) showTip(t, e.clientX, e.clientY);
  });
  document.addEventListener("mouseout", (e) => {
    const t = e.target.closest("[data-tip]");
    if (t) { tip().hidden = true; highlight(t, false); }
  });
  document.addEventListener("focusin", (e) => {
    const t = e.target.closest("[data-tip]");
    if (t) { const r = t.getBoundingClientRect(); showTip(t, r.right, r.top); highlight(t, true); }
  });
  document.addEventListener("focusout", (e) => {
    const t = e.target.closest("[data-tip]");
    if (t) { tip().hidden = true; highlight(t, false); }
  });

  // Refresh: fetch this page again and swap in its <main>, keeping the scroll position.
  // On by default where something is still running; the choice is remembered.
  const KEY = "accord-ui-live";
  let timer = null;

  async function refresh() {
    try {
      const reply = await fetch(window.location.href, { headers: { "X-Accord-Refresh": "1" } });
      if (!reply.ok) return;
      const doc = new DOMParser().parseFromString(await reply.text(), "text/html");
      const fresh = doc.getElementById("main");
      const open = [...document.querySelectorAll("details[open]")].map((d) => d.id || null);
      if (fresh) document.getElementById("main").replaceWith(document.adoptNode(fresh));
      loadVerdicts();
      open.forEach((id) => { if (id) { const d = document.getElementById(id); if (d) d.open = true; } });
      const stamp = document.getElementById("refreshed");
      if (stamp) stamp.textContent = "updated " + new Date().toLocaleTimeString();
    } catch (err) { /* the server is gone or busy: try again next time */ }
  }

  // The audit verdict takes a while on a long run: pages load without it and fetch it.
  async function loadVerdicts() {
    for (const box of document.querySelectorAll("[data-verdict]")) {
      try {
        const reply = await fetch(box.getAttribute("data-verdict"));
        const doc = new DOMParser().parseFromString(await reply.text(), "text/html");
        const found = doc.getElementById("verdict");
        if (found) {
          box.replaceChildren(...[...found.childNodes].map((n) => document.adoptNode(n)));
          box.removeAttribute("data-verdict");
          box.classList.add("checked");
        }
      } catch (err) { /* left as "checking": the next refresh tries again */ }
    }
  }

  function setLive(on) {
    if (timer) { clearInterval(timer); timer = null; }
    if (on) timer = setInterval(refresh, 3000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.getElementById("live");
    if (box) {
      const saved = window.localStorage.getItem(KEY);
      box.checked = saved === null ? box.getAttribute("data-default") === "on" : saved === "on";
      box.addEventListener("change", () => {
        window.localStorage.setItem(KEY, box.checked ? "on" : "off");
        setLive(box.checked);
      });
      setLive(box.checked);
    }
    loadVerdicts();
    const retry = document.getElementById("retry");
    if (retry) setTimeout(() => window.location.reload(), 1000 * Number(retry.getAttribute("data-retry")));
  });
})();
