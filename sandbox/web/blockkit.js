// Block Kit to DOM: header, section (text, fields, accessory), divider,
// context, actions, image, input and rich_text; buttons keep their
// action_id and value so a click becomes a real block_actions payload.
"use strict";

const BlockKit = (() => {
  const el = (tag, cls, html) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (html !== undefined) e.innerHTML = html;
    return e;
  };

  // opts: {ctx, onButton(element), errors: {block_id: msg}}
  function render(blocks, opts) {
    const root = el("div", "blocks");
    (blocks || []).forEach((b, i) => {
      const node = block(b, i, opts || {});
      if (node) root.appendChild(node);
    });
    return root;
  }

  function block(b, i, opts) {
    const ctx = opts.ctx;
    switch (b.type) {
      case "header":
        return el("div", "blk blk-header", Mrkdwn.plain(b.text, ctx));
      case "divider":
        return el("hr", "blk-divider");
      case "section": {
        const s = el("div", "blk blk-section");
        const main = el("div", "main");
        if (b.text) main.appendChild(el("div", "text", Mrkdwn.plain(b.text, ctx)));
        if (b.fields && b.fields.length) {
          const f = el("div", "blk-fields");
          b.fields.forEach((x) => f.appendChild(el("div", "text", Mrkdwn.plain(x, ctx))));
          main.appendChild(f);
        }
        s.appendChild(main);
        if (b.accessory) {
          const acc = element(b.accessory, b.block_id || `blk${i}`, opts);
          if (acc) s.appendChild(acc);
        }
        return s;
      }
      case "context": {
        const c = el("div", "blk blk-context");
        (b.elements || []).forEach((x) => {
          if (x.type === "image") {
            const img = el("img");
            img.src = x.image_url; img.alt = x.alt_text || "";
            c.appendChild(img);
          } else {
            c.appendChild(el("span", "", Mrkdwn.plain(x, ctx)));
          }
        });
        return c;
      }
      case "actions": {
        const a = el("div", "blk blk-actions");
        (b.elements || []).forEach((x) => {
          const node = element(x, b.block_id || `blk${i}`, opts);
          if (node) a.appendChild(node);
        });
        return a;
      }
      case "image": {
        const d = el("div", "blk blk-image");
        if (b.title) d.appendChild(el("div", "text", Mrkdwn.plain(b.title, ctx)));
        const img = el("img");
        img.src = b.image_url; img.alt = b.alt_text || "";
        d.appendChild(img);
        return d;
      }
      case "input":
        return input(b, i, opts);
      case "rich_text":
        return el("div", "blk text", Mrkdwn.esc(richText(b)));
      default:
        return el("div", "blk text", `<i>(${Mrkdwn.esc(b.type)} block)</i>`);
    }
  }

  function richText(b) {
    let out = "";
    const walk = (n) => {
      if (!n) return;
      if (typeof n.text === "string") out += n.text;
      if (n.type === "user") out += "@" + n.user_id;
      (n.elements || []).forEach(walk);
    };
    walk(b);
    return out;
  }

  // element renders an interactive element outside an input block.
  function element(x, blockId, opts) {
    switch (x.type) {
      case "button": {
        const btn = el("button", "sbtn" + (x.style ? " " + x.style : ""), Mrkdwn.plain(x.text, opts.ctx));
        btn.type = "button";
        btn.dataset.actionId = x.action_id || "";
        btn.dataset.value = x.value || "";
        btn.dataset.blockId = blockId;
        if (x.url) {
          btn.addEventListener("click", () => window.open(x.url, "_blank", "noopener"));
        } else if (opts.onButton) {
          btn.addEventListener("click", () => opts.onButton(x, btn));
        }
        return btn;
      }
      case "image": {
        const img = el("img");
        img.src = x.image_url; img.alt = x.alt_text || ""; img.width = 64;
        return img;
      }
      case "overflow":
      case "static_select":
      case "users_select":
      case "datepicker": {
        const sel = el("select", "sselect");
        sel.disabled = true;
        sel.title = "Not supported outside modals in the sandbox";
        sel.appendChild(el("option", "", Mrkdwn.plain(x.placeholder || {text: x.type}, opts.ctx)));
        return sel;
      }
      default:
        return null;
    }
  }

  // input renders an input block of a modal; collect() reads it back.
  function input(b, i, opts) {
    const blockId = b.block_id || `blk${i}`;
    const wrap = el("div", "blk blk-input");
    const err = opts.errors && opts.errors[blockId];
    if (err) wrap.classList.add("has-error");
    const label = el("label", "", Mrkdwn.plain(b.label, opts.ctx) + (b.optional ? ' <span class="optional">(optional)</span>' : ""));
    wrap.appendChild(label);
    const x = b.element || {};
    let field;
    switch (x.type) {
      case "static_select":
      case "external_select": {
        field = el("select");
        const opt0 = el("option", "", Mrkdwn.plain(x.placeholder || {text: "Choose an option"}, opts.ctx));
        opt0.value = "";
        field.appendChild(opt0);
        const add = (o, parent) => {
          const op = el("option", "", Mrkdwn.plain(o.text, opts.ctx));
          op.value = o.value;
          if (x.initial_option && x.initial_option.value === o.value) op.selected = true;
          parent.appendChild(op);
        };
        (x.options || []).forEach((o) => add(o, field));
        (x.option_groups || []).forEach((g) => {
          const og = el("optgroup"); og.label = g.label.text;
          (g.options || []).forEach((o) => add(o, og));
          field.appendChild(og);
        });
        break;
      }
      case "plain_text_input":
        field = el(x.multiline ? "textarea" : "input");
        if (x.initial_value) field.value = x.initial_value;
        if (x.placeholder) field.placeholder = x.placeholder.text;
        break;
      case "number_input":
        field = el("input"); field.type = "number";
        if (x.initial_value) field.value = x.initial_value;
        break;
      case "datepicker":
        field = el("input"); field.type = "date";
        if (x.initial_date) field.value = x.initial_date;
        break;
      case "timepicker":
        field = el("input"); field.type = "time";
        if (x.initial_time) field.value = x.initial_time;
        break;
      case "users_select":
        field = el("select");
        field.appendChild(el("option", "", "Choose a person"));
        Object.entries(opts.ctx.users || {}).forEach(([id, u]) => {
          if (u.is_bot) return;
          const op = el("option", "", Mrkdwn.esc(u.real_name || u.name)); op.value = id;
          if (x.initial_user === id) op.selected = true;
          field.appendChild(op);
        });
        break;
      default:
        field = el("input"); field.disabled = true; field.value = `(${x.type} not supported in the sandbox)`;
    }
    field.dataset.block = blockId;
    field.dataset.action = x.action_id || "";
    field.dataset.type = x.type || "plain_text_input";
    field.id = `in-${blockId}`;
    label.htmlFor = field.id;
    wrap.appendChild(field);
    if (b.hint) wrap.appendChild(el("div", "hint", Mrkdwn.plain(b.hint, opts.ctx)));
    if (err) wrap.appendChild(el("div", "error", Mrkdwn.esc(err)));
    return wrap;
  }

  // collect reads a modal's inputs as view_submission state values:
  // {block_id: {action_id: {Type, Value}}}.
  function collect(root) {
    const values = {};
    root.querySelectorAll("[data-block][data-action]").forEach((f) => {
      if (f.value === "" && f.tagName === "SELECT") return;
      const block = values[f.dataset.block] || (values[f.dataset.block] = {});
      block[f.dataset.action] = { Type: f.dataset.type, Value: f.value };
    });
    return values;
  }

  return { render, collect };
})();
