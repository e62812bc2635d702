// The Slack-like workspace: sidebar, conversation, thread, App Home and
// modals, drawn from the fake Slack's state for the person chosen.
"use strict";

const Slack = (() => {
  const $ = (id) => document.getElementById(id);
  const esc = Mrkdwn.esc;
  const palette = ["#e8912d", "#2eb67d", "#1264a3", "#e01e5a", "#9b59b6", "#4a154b", "#0b8a8a"];

  function ctx(st) {
    const channels = {};
    st.channels.forEach((c) => { channels[c.id] = c.name; });
    return { users: st.users, channels, me: st.me };
  }

  function userName(st, id) {
    const u = st.users[id];
    return u ? (u.real_name || u.name) : id;
  }

  function avatar(st, id, bot) {
    const a = document.createElement("div");
    a.className = "avatar";
    if (bot) { a.style.background = "#2eb67d"; a.textContent = "⚙"; return a; }
    let h = 0;
    for (const ch of id || "") h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    a.style.background = palette[h % palette.length];
    a.textContent = userName(st, id).charAt(0).toUpperCase();
    return a;
  }

  // zone is the viewer's time zone (their Slack profile's), so the page
  // shows one zone for the clock and every message.
  function zone(st) {
    const u = st && st.users && st.users[st.me];
    return (u && u.tz) || undefined;
  }
  window.SandboxZone = zone;

  function clockTime(ts, st) {
    const d = new Date(parseFloat(ts) * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone: zone(st) });
  }

  // dayLabel names a message's day in the viewer's zone, for the
  // separators between days.
  function dayLabel(ts, st) {
    const d = new Date(parseFloat(ts) * 1000);
    return d.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long", timeZone: zone(st) });
  }

  function daySeparator(label) {
    const sep = document.createElement("div");
    sep.className = "day-sep";
    sep.textContent = label;
    return sep;
  }

  // sidebar lists public channels and the person's DM with the bot.
  function renderSidebar(st, app) {
    const list = $("channel-list"), dms = $("dm-list");
    list.innerHTML = ""; dms.innerHTML = "";
    st.channels.filter((c) => !c.is_im).forEach((c) => {
      const li = document.createElement("li");
      li.textContent = "# " + c.name;
      li.dataset.channel = c.id;
      li.dataset.name = c.name;
      if (!c.member) { li.classList.add("away"); li.title = "You are not a member of this channel"; }
      if (app.unread(c)) li.classList.add("unread");
      if (app.current === c.id) li.classList.add("active");
      li.addEventListener("click", () => app.open(c.id));
      list.appendChild(li);
    });
    const im = st.channels.find((c) => c.is_im);
    const li = document.createElement("li");
    li.innerHTML = '<span class="presence"></span>opsbot <span class="tag">APP</span>';
    li.id = "nav-dm";
    li.dataset.channel = im ? im.id : "";
    if (im && app.unread(im)) li.classList.add("unread");
    if (app.current === "dm") li.classList.add("active");
    li.addEventListener("click", () => app.open("dm"));
    dms.appendChild(li);
    $("nav-home").classList.toggle("active", app.current === "home");
  }

  // Emoji the page draws for reaction names; others show as :name:.
  const emojis = { pushpin: "📌", "+1": "👍", thumbsup: "👍", eyes: "👀", white_check_mark: "✅", fire: "🔥",
    tada: "🎉", heart: "❤️", rotating_light: "🚨", pray: "🙏" };
  function emoji(name) { return emojis[name] || `:${esc(name)}:`; }

  // hoverActions is Slack's message toolbar: quick reactions (📌 puts
  // a message on an incident's timeline) and reply in thread.
  function hoverActions(m, app, opts) {
    const bar = document.createElement("div");
    bar.className = "msg-actions";
    [["pushpin", "Add 📌: in an incident channel this puts the message on the timeline"], ["+1", "Add 👍"]].forEach(([name, title]) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "msg-act react";
      b.dataset.reaction = name;
      b.title = title;
      b.textContent = emoji(name);
      b.addEventListener("click", () => app.react(opts.channel, m.ts, name, b));
      bar.appendChild(b);
    });
    if (!opts.inThread) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "msg-act reply";
      b.title = "Reply in thread";
      b.textContent = "💬";
      b.addEventListener("click", () => app.openThread(opts.channel, m.ts));
      bar.appendChild(b);
    }
    return bar;
  }

  function message(st, m, app, opts) {
    const row = document.createElement("div");
    row.className = "msg" + (m.pinned ? " pinned" : "") + (opts.ephemeral ? " ephemeral" : "");
    row.dataset.ts = m.ts;
    row.appendChild(avatar(st, m.user, m.bot));
    const body = document.createElement("div");
    body.className = "body";
    if (m.pinned) body.insertAdjacentHTML("beforeend", '<div class="pin-note">📌 Pinned</div>');
    if (opts.ephemeral) body.insertAdjacentHTML("beforeend", '<div class="eph-note">👁 Only visible to you</div>');
    const head = document.createElement("div");
    const name = m.bot ? "opsbot" : userName(st, m.user);
    head.innerHTML = `<span class="who">${esc(name)}</span>${m.bot ? '<span class="app-badge">APP</span>' : ""}` +
      `<span class="time">${clockTime(m.ts, st)}</span>`;
    body.appendChild(head);
    const c = ctx(st);
    if (m.blocks && m.blocks.length) {
      body.appendChild(BlockKit.render(m.blocks, { ctx: c, onButton: (x, btn) => app.click({ channel: opts.channel, ts: m.ts, action_id: x.action_id, value: x.value }, btn) }));
    } else {
      const t = document.createElement("div");
      t.className = "text";
      t.innerHTML = Mrkdwn.toHTML(m.text, c);
      body.appendChild(t);
    }
    // Shared files: pictures shown as Slack previews them, others as a link.
    (m.files || []).forEach((f) => {
      const box = document.createElement("figure");
      box.className = "file";
      if (/\.(png|jpe?g|gif)$/i.test(f.name)) {
        const img = document.createElement("img");
        img.src = f.url;
        img.alt = f.alt || f.title;
        img.loading = "lazy";
        box.appendChild(img);
      }
      const cap = document.createElement("figcaption");
      const a = document.createElement("a");
      a.href = f.url;
      a.target = "_blank";
      a.textContent = f.title || f.name;
      cap.appendChild(a);
      box.appendChild(cap);
      body.appendChild(box);
    });
    // insertAdjacentHTML, not innerHTML +=: re-parsing the body would
    // drop the handlers of the buttons already in it.
    if (m.edited) body.insertAdjacentHTML("beforeend", '<span class="edited">(edited)</span>');
    if (m.reactions && m.reactions.length) {
      const r = document.createElement("div");
      r.className = "reactions";
      m.reactions.forEach((x) => {
        const mine = x.users.includes(st.me);
        const pill = document.createElement("button");
        pill.type = "button";
        pill.className = "reaction" + (mine ? " mine" : "");
        pill.dataset.reaction = x.name;
        pill.title = x.users.map((u) => userName(st, u)).join(", ") + ` reacted with :${x.name}:`;
        pill.innerHTML = `${emoji(x.name)} <span class="count">${x.users.length}</span>`;
        if (!mine && !opts.ephemeral) pill.addEventListener("click", () => app.react(opts.channel, m.ts, x.name, pill));
        r.appendChild(pill);
      });
      body.appendChild(r);
    }
    if (!opts.ephemeral) row.appendChild(hoverActions(m, app, opts));
    if (m.replies && !opts.inThread) {
      const rep = document.createElement("div");
      rep.className = "replies";
      rep.textContent = m.replies === 1 ? "1 reply" : `${m.replies} replies`;
      rep.addEventListener("click", () => app.openThread(opts.channel, m.ts));
      body.appendChild(rep);
    }
    body.querySelectorAll("[data-channel]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); app.open(a.dataset.channel); }));
    row.appendChild(body);
    return row;
  }

  function currentChannel(st, app) {
    if (app.current === "dm") return st.channels.find((c) => c.is_im) || null;
    return st.channels.find((c) => c.id === app.current) || null;
  }

  // conversation draws the open channel: top-level messages and the
  // person's ephemeral messages there, in time order.
  function renderConversation(st, app) {
    const home = app.current === "home";
    $("messages").hidden = home;
    $("composer").hidden = home;
    $("home").hidden = !home;
    const head = $("conv-header");
    if (home) {
      head.innerHTML = '<div class="title">⚙ opsbot</div><div class="meta">App Home</div>';
      renderHome(st, app);
      return;
    }
    const ch = currentChannel(st, app);
    const pins = ch ? ch.messages.filter((m) => m.pinned).length : 0;
    if (app.current === "dm") {
      head.innerHTML = '<div class="title">opsbot <span class="app-badge">APP</span></div><div class="meta">Direct message with the app</div>';
    } else if (ch) {
      head.innerHTML = `<div class="title"># ${esc(ch.name)}</div><div class="meta">${ch.members} members` +
        (pins ? ` · 📌 ${pins} pinned` : "") + (ch.topic ? ` · ${Mrkdwn.toHTML(ch.topic, ctx(st))}` : "") + "</div>";
    }
    $("composer-input").placeholder = app.current === "dm" ? "Message opsbot" : `Message #${ch ? ch.name : ""}`;
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.innerHTML = "";
    const items = [];
    if (ch) {
      ch.messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts).forEach((m) => items.push({ m, eph: false }));
    }
    const chID = ch ? ch.id : "";
    (st.ephemerals || []).filter((e) => e.channel === chID).forEach((e) => items.push({ m: { ...e, user: "", bot: true }, eph: true }));
    items.sort((a, b) => parseFloat(a.m.ts) - parseFloat(b.m.ts));
    if (!items.length) box.innerHTML = '<div class="empty">No messages yet.</div>';
    let day = "";
    items.forEach((it) => {
      const d = dayLabel(it.m.ts, st);
      if (d !== day) { box.appendChild(daySeparator(d)); day = d; }
      box.appendChild(message(st, it.m, app, { channel: chID, ephemeral: it.eph }));
    });
    if (atBottom || app.scrollDown) { box.scrollTop = box.scrollHeight; app.scrollDown = false; }
    renderThread(st, app);
  }

  function renderThread(st, app) {
    const pane = $("thread");
    if (!app.thread) { pane.hidden = true; return; }
    const ch = st.channels.find((c) => c.id === app.thread.channel);
    if (!ch) { pane.hidden = true; return; }
    pane.hidden = false;
    $("thread-where").textContent = ch.is_im ? "opsbot" : "#" + ch.name;
    const box = $("thread-messages");
    box.innerHTML = "";
    ch.messages.filter((m) => m.ts === app.thread.ts || m.thread_ts === app.thread.ts)
      .forEach((m) => box.appendChild(message(st, m, app, { channel: ch.id, inThread: true })));
  }

  function renderHome(st, app) {
    const box = $("home");
    box.innerHTML = '<div class="home-tabs"><span>Home</span></div>';
    if (!st.home) { box.innerHTML += '<div class="empty">opsbot has not published a Home tab for you.</div>'; return; }
    const view = st.home.view || {};
    box.appendChild(BlockKit.render(view.blocks, { ctx: ctx(st), onButton: (x, btn) => app.click({ view_id: st.home.id, action_id: x.action_id, value: x.value }, btn) }));
  }

  // modal draws the newest open modal, keeping what was typed when the
  // app updates it (e.g. to show errors).
  function renderModal(st, app) {
    const back = $("modal-backdrop"), box = $("modal");
    if (!st.modal) { back.hidden = true; box.dataset.key = ""; return; }
    const key = st.modal.id + ":" + JSON.stringify(st.modal.view).length + ":" + JSON.stringify(st.modal.errors || {});
    if (box.dataset.key === key && !back.hidden) return;
    const typed = box.dataset.id === st.modal.id ? BlockKit.collect(box) : {};
    box.dataset.key = key; box.dataset.id = st.modal.id;
    const v = st.modal.view || {};
    const text = (o, d) => esc((o && o.text) || d);
    box.innerHTML = `<div class="m-head"><span>${text(v.title, "Modal")}</span><button type="button" class="m-x" title="Close">✕</button></div>`;
    const body = document.createElement("div");
    body.className = "m-body";
    body.appendChild(BlockKit.render(v.blocks, { ctx: ctx(st), errors: st.modal.errors,
      onButton: (x, btn) => app.click({ view_id: st.modal.id, action_id: x.action_id, value: x.value }, btn) }));
    box.appendChild(body);
    const foot = document.createElement("div");
    foot.className = "m-foot";
    foot.innerHTML = `<button type="button" class="sbtn m-cancel">${text(v.close, "Cancel")}</button>` +
      (v.submit ? `<button type="button" class="sbtn primary m-submit">${text(v.submit, "Submit")}</button>` : "");
    box.appendChild(foot);
    Object.entries(typed).forEach(([blockID, acts]) => Object.entries(acts).forEach(([, iv]) => {
      const f = box.querySelector(`[data-block="${CSS.escape(blockID)}"]`);
      if (f) f.value = iv.Value;
    }));
    const cancel = () => app.closeModal(st.modal.id);
    box.querySelector(".m-x").addEventListener("click", cancel);
    box.querySelector(".m-cancel").addEventListener("click", cancel);
    const submit = box.querySelector(".m-submit");
    if (submit) submit.addEventListener("click", () => app.submitModal(st.modal.id, BlockKit.collect(box), submit));
    back.hidden = false;
  }

  function render(st, app) {
    renderSidebar(st, app);
    renderConversation(st, app);
    renderModal(st, app);
  }

  return { render, currentChannel };
})();
