// The page's controller: polls /api/state, keeps who you are and where you
// are, and turns clicks and typing into sandbox API calls (which the
// sandbox turns into what Slack or PagerDuty would send opsbot).
"use strict";

const App = (() => {
  const $ = (id) => document.getElementById(id);
  const app = {
    me: localStorage.getItem("opsbot-sandbox-me") || "",
    current: localStorage.getItem("opsbot-sandbox-channel") || "",
    thread: null,
    page: "",
    st: null,
    version: "",
    seen: {},
    scrollDown: true,
    now: null,
    offsetMs: 0,
    tab: "ec2",
  };

  function toast(msg) {
    const t = $("toast");
    t.textContent = msg;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
  }

  async function post(path, body) {
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const out = await r.json();
    if (!out.ok) throw new Error(out.error || `HTTP ${r.status}`);
    return out;
  }

  // act runs one action as the person chosen, then redraws at once.
  app.act = async (path, body, btn) => {
    if (btn) btn.disabled = true;
    try {
      return await post(path, { user: app.me, ...body });
    } catch (e) {
      toast(e.message);
      throw e;
    } finally {
      if (btn) btn.disabled = false;
      poll();
    }
  };

  app.click = (target, btn) => app.act("/api/slack/click", target, btn).catch(() => {});
  app.submitModal = (viewID, values, btn) => app.act("/api/slack/submit", { view_id: viewID, values }, btn).catch(() => {});
  app.closeModal = (viewID) => app.act("/api/slack/close", { view_id: viewID }).catch(() => {});
  app.react = (channel, ts, reaction, btn) => app.act("/api/slack/react", { channel, ts, reaction }, btn).catch(() => {});

  app.unread = (c) => c.id !== app.currentID() && (c.messages || []).length > (app.seen[c.id] || 0);
  app.currentID = () => {
    if (!app.st) return "";
    if (app.current === "dm") { const im = app.st.channels.find((c) => c.is_im); return im ? im.id : ""; }
    return app.current;
  };

  app.open = (where) => {
    app.current = where;
    app.thread = null;
    app.scrollDown = true;
    localStorage.setItem("opsbot-sandbox-channel", where);
    if (where === "home") app.act("/api/slack/home", {}).catch(() => {});
    render();
    $("composer-input").focus();
  };

  app.openThread = (channel, ts) => {
    app.thread = { channel, ts };
    render();
    $("thread-input").focus();
  };

  function render() {
    const st = app.st;
    if (!st) return;
    if (!app.current || (app.current !== "home" && app.current !== "dm" && !st.channels.find((c) => c.id === app.current))) {
      const general = st.channels.find((c) => c.name === "general");
      app.current = general ? general.id : "dm";
    }
    const cur = st.channels.find((c) => c.id === app.currentID());
    if (cur) app.seen[cur.id] = cur.messages.length;
    Slack.render(st, app);
    Tools.render(st, app);
    $("notes").textContent = (st.notes || []).join(" ");
  }

  function renderWho(st) {
    const sel = $("whoami");
    if (sel.options.length) return;
    st.people.forEach((p) => {
      const o = document.createElement("option");
      o.value = p.ID;
      o.textContent = `${p.Name} (${p.Role})`;
      sel.appendChild(o);
    });
    sel.value = app.me;
  }

  function renderClock() {
    if (!app.now) return;
    const now = new Date(app.now.getTime() + (Date.now() - app.now.fetched));
    $("clock-now").textContent = now.toLocaleString([], { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit",
      timeZone: window.SandboxZone ? window.SandboxZone(app.st) : undefined });
    const ahead = Math.round(app.offsetMs / 60000);
    let text = "";
    if (ahead >= 1) {
      const d = Math.floor(ahead / 1440), h = Math.floor((ahead % 1440) / 60), m = ahead % 60;
      text = "+" + [d && `${d}d`, h && `${h}h`, m && `${m}m`].filter(Boolean).join(" ") + " ahead";
    }
    $("clock-offset").textContent = text;
  }

  let polling = false;
  async function poll() {
    if (polling) { poll.again = true; return; }
    polling = true;
    try {
      const r = await fetch(`/api/state?user=${encodeURIComponent(app.me)}&since=${encodeURIComponent(app.version)}`);
      const out = await r.json();
      app.now = new Date(out.now);
      app.now.fetched = Date.now();
      app.offsetMs = new Date(out.now) - new Date(out.wall);
      renderClock();
      if (!out.same) {
        app.version = out.version;
        const first = !app.st;
        app.st = out.state;
        if (!app.me) app.me = app.st.me;
        if (first) app.st.channels.forEach((c) => { app.seen[c.id] = c.messages ? c.messages.length : 0; });
        app.st.channels.forEach((c) => { c.messages = c.messages || []; });
        renderWho(app.st);
        render();
        document.body.dataset.version = out.version;
      }
    } catch (e) {
      $("clock-offset").textContent = "sandbox not reachable";
    } finally {
      polling = false;
      if (poll.again) { poll.again = false; poll(); }
    }
  }

  function wire() {
    $("whoami").addEventListener("change", (e) => {
      app.me = e.target.value;
      localStorage.setItem("opsbot-sandbox-me", app.me);
      app.version = "";
      app.thread = null;
      poll();
    });
    $("nav-home").addEventListener("click", () => app.open("home"));
    document.querySelectorAll(".ff").forEach((b) => b.addEventListener("click", async () => {
      document.querySelectorAll(".ff").forEach((x) => { x.disabled = true; });
      $("ff-busy").hidden = false;
      try {
        if (b.dataset.duration) {
          await app.act("/api/clock/advance", { duration: b.dataset.duration });
        } else {
          const out = await app.act("/api/costs/review", {});
          if (out && out.said) { toast(out.said); }
        }
      } catch (e) { /* toasted */ }
      document.querySelectorAll(".ff").forEach((x) => { x.disabled = false; });
      $("ff-busy").hidden = true;
    }));
    document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => showTab(t.dataset.tab)));
    $("thread-close").addEventListener("click", () => { app.thread = null; render(); });
    composer($("composer-input"), $("composer"), $("send"), () => ({ channel: app.currentID() }));
    composer($("thread-input"), $("thread-composer"), $("thread-send"),
      () => (app.thread ? { channel: app.thread.channel, thread_ts: app.thread.ts } : null));
    showTab(app.tab);
  }

  // composer sends what is typed in input: a slash command, or a message
  // to where() says (a channel, or a thread in it). Enter sends.
  // mentions turns "@dana" (a handle, a first name or a full name without
  // spaces, any case) into Slack's mention "<@U…>", as Slack's composer
  // does when a person picks someone; slash commands get "<@U…|name>", the
  // form Slack sends with should_escape. Unknown names stay as typed.
  function mentions(text, slash) {
    const users = (app.st && app.st.users) || {};
    return text.replace(/(^|\s)@([A-Za-z0-9._-]+)/g, (all, pre, name) => {
      const want = name.toLowerCase();
      const id = Object.keys(users).find((k) => {
        const u = users[k];
        if (u.is_bot) return false;
        const real = (u.real_name || "").toLowerCase();
        return (u.name || "").toLowerCase() === want || real.replace(/\s+/g, "") === want || real.split(/\s+/)[0] === want;
      });
      if (!id) return all;
      return pre + (slash ? `<@${id}|${users[id].name}>` : `<@${id}>`);
    });
  }
  window.SandboxMentions = mentions;

  function composer(input, form, btn, where) {
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const typed = input.value.trim();
      const to = where();
      if (!typed || !to) return;
      const slash = typed.startsWith("/");
      // Slack escapes &, < and > in what is typed before the app sees
      // it (a command's text, a message); mentions then add references.
      const text = mentions(typed.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"), slash);
      input.value = "";
      app.scrollDown = true;
      try {
        // Slash commands run in the channel, even when typed in a thread.
        await app.act(slash ? "/api/slack/command" : "/api/slack/message", slash ? { channel: to.channel, text } : { ...to, text }, btn);
      } catch (err) {
        input.value = typed;
      }
    });
  }

  function showTab(name) {
    app.tab = name;
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.tab === name));
    ["ec2", "pagerduty", "notion"].forEach((n) => { $("panel-" + n).hidden = n !== name; });
  }

  wire();
  poll();
  setInterval(poll, 1000);
  setInterval(renderClock, 1000);
  return app;
})();
