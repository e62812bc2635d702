// The EC2, PagerDuty and Notion panels.
"use strict";

const Tools = (() => {
  const $ = (id) => document.getElementById(id);
  const esc = Mrkdwn.esc;
  const when = (t) => t ? new Date(t).toLocaleString([], { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }) : "";

  function renderEC2(st) {
    const p = $("panel-ec2");
    const rows = (st.instances || []).slice().reverse();
    let html = '<div class="console-bar"><b>aws</b> EC2 · N. Virginia (us-east-1)</div>' +
      `<h2>Instances <span class="n">(${rows.length})</span></h2><div class="card">`;
    if (!rows.length) {
      html += '<div class="none">No instances. Ask opsbot for one: <code>/ops server request test-small</code></div>';
    } else {
      html += "<table><tr><th>Name / ID</th><th>State</th><th>Type</th><th>Launched</th></tr>";
      rows.forEach((i) => {
        const tags = Object.entries(i.tags || {}).filter(([k]) => k !== "Name").sort()
          .map(([k, v]) => `<span class="chip">${esc(k)}=${esc(v)}</span>`).join("");
        html += `<tr class="instance" data-id="${esc(i.id)}" data-state="${esc(i.state)}">` +
          `<td><div>${esc((i.tags || {}).Name || "–")}</div><div class="iid">${esc(i.id)}</div><div class="chips">${tags}</div></td>` +
          `<td class="state s-${esc(i.state)}"><span class="dot"></span>${esc(i.state)}</td>` +
          `<td>${esc(i.type)}<div class="sub">${esc(i.private_ip || "")}</div></td>` +
          `<td>${esc(when(i.launch_time))}</td></tr>`;
      });
      html += "</table>";
    }
    p.innerHTML = html + "</div>";
  }

  // renderPagerDutyForm draws the trigger form once, so typing survives polls.
  function renderPagerDutyForm(st, app) {
    const p = $("panel-pagerduty");
    if (p.dataset.ready) return;
    p.dataset.ready = "1";
    p.innerHTML = '<div class="pd-bar">PagerDuty <span>sandbox.pagerduty.com</span></div>' +
      '<div class="trigger"><b>New incident</b><div class="row"><select id="pd-service"></select></div>' +
      '<div class="row"><input id="pd-title" placeholder="Title, e.g. Checkout latency above 2s"></div>' +
      '<div class="row"><button class="btn go" id="pd-trigger" type="button">Trigger incident</button></div></div>' +
      '<div id="pd-incidents"></div>';
    const sel = $("pd-service");
    (st.services || []).forEach((s) => { const o = document.createElement("option"); o.value = s.id; o.textContent = s.name; sel.appendChild(o); });
    $("pd-trigger").addEventListener("click", () => {
      const title = $("pd-title").value.trim() || "Checkout latency above 2s";
      app.act("/api/pagerduty/trigger", { service: sel.value, text: title }, $("pd-trigger")).then(() => { $("pd-title").value = ""; });
    });
  }

  function renderPagerDuty(st, app) {
    renderPagerDutyForm(st, app);
    const box = $("pd-incidents");
    const svc = {};
    (st.services || []).forEach((s) => { svc[s.id] = s.name; });
    const open = {};
    box.querySelectorAll("details[open]").forEach((d) => { open[d.dataset.id] = true; });
    const incs = st.incidents || [];
    if (!incs.length) { box.innerHTML = '<div class="none">No incidents. All quiet.</div>'; return; }
    box.innerHTML = "";
    incs.forEach((i) => {
      const d = document.createElement("div");
      d.className = "inc";
      d.dataset.id = i.id;
      d.dataset.status = i.status;
      d.innerHTML = `<div class="inc-head"><span class="badge b-${esc(i.status)}">${esc(i.status)}</span>` +
        `<span class="inc-title">#${i.number} ${esc(i.title)}</span></div>` +
        `<div class="inc-meta">${esc(svc[i.service] || i.service)} · ${esc(i.urgency)} urgency · assigned to ${esc((i.assignees || []).join(", ") || "nobody")} · ${esc(when(i.created))}</div>`;
      const acts = document.createElement("div");
      acts.className = "inc-actions";
      if (i.status === "triggered") acts.appendChild(button("Acknowledge", "pd-ack", () => app.act("/api/pagerduty/acknowledge", { incident: i.id })));
      if (i.status !== "resolved") acts.appendChild(button("Resolve", "pd-resolve", () => app.act("/api/pagerduty/resolve", { incident: i.id })));
      d.appendChild(acts);
      const log = document.createElement("details");
      log.dataset.id = i.id;
      log.open = !!open[i.id];
      log.innerHTML = `<summary>Log (${(i.log || []).length})</summary><ul>` + (i.log || []).map((l) => `<li>${esc(l)}</li>`).join("") + "</ul>";
      d.appendChild(log);
      box.appendChild(d);
    });
  }

  function button(label, cls, fn) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "btn " + cls; b.textContent = label;
    b.addEventListener("click", () => { b.disabled = true; fn(); });
    return b;
  }

  function renderNotion(st, app) {
    const p = $("panel-notion");
    const pages = st.pages || [];
    let html = '<div class="n-bar">Notion · Post-mortems and reviews</div><div class="n-db">';
    if (!pages.length) html += '<div class="none">No pages yet. opsbot writes a post-mortem when an incident is resolved.</div>';
    // The newest page is shown until one is picked: a post-mortem written
    // after the month's cost review comes up by itself.
    if (!app.pagePicked || !pages.find((x) => x.id === app.page)) app.page = pages.length ? pages[0].id : "";
    pages.forEach((pg) => {
      html += `<div data-page="${esc(pg.id)}" class="${pg.id === app.page ? "active" : ""}">📄 ${esc(pg.title || "Untitled")}</div>`;
    });
    html += "</div>";
    const pg = pages.find((x) => x.id === app.page);
    if (pg) html += page(pg);
    p.innerHTML = html;
    p.querySelectorAll("[data-page]").forEach((d) => d.addEventListener("click", () => { app.page = d.dataset.page; app.pagePicked = true; renderNotion(st, app); }));
  }

  function page(pg) {
    let html = `<div class="n-page" data-page-id="${esc(pg.id)}"><div class="n-title">${esc(pg.title || "Untitled")}</div><div class="n-props">`;
    Object.keys(pg.props || {}).sort().forEach((k) => { html += `<div><span class="k">${esc(k)}</span><span>${esc(pg.props[k])}</span></div>`; });
    html += "</div>";
    let n = 0;
    (pg.blocks || []).forEach((b) => {
      const t = esc(b.text);
      const indent = b.depth ? ` style="margin-left:${b.depth * 18}px"` : "";
      n = b.type === "numbered_list_item" ? n + 1 : 0;
      switch (b.type) {
        case "heading_1": html += `<h1>${t}</h1>`; break;
        case "heading_2": html += `<h2>${t}</h2>`; break;
        case "heading_3": html += `<h3>${t}</h3>`; break;
        case "bulleted_list_item": html += `<div class="li"${indent}>${t}</div>`; break;
        case "numbered_list_item": html += `<div${indent}>${n}. ${t}</div>`; break;
        case "to_do": html += `<div class="todo"${indent}><input type="checkbox" disabled${b.checked ? " checked" : ""}>${t}</div>`; break;
        case "quote": html += `<blockquote>${t}</blockquote>`; break;
        case "divider": html += "<hr>"; break;
        case "code": html += `<pre>${t}</pre>`; break;
        default: html += `<p${indent}>${t}</p>`;
      }
    });
    return html + "</div>";
  }

  function render(st, app) {
    renderEC2(st);
    renderPagerDuty(st, app);
    renderNotion(st, app);
    const open = (st.incidents || []).filter((i) => i.status !== "resolved").length;
    $("tab-pagerduty").innerHTML = "PagerDuty" + (open ? ` <span class="count">${open}</span>` : "");
    $("tab-notion").innerHTML = "Notion" + ((st.pages || []).length ? ` <span class="count" style="background:#787774">${st.pages.length}</span>` : "");
  }

  return { render };
})();
