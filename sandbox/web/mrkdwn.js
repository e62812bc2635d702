// Slack's mrkdwn to HTML: *bold*, _italic_, ~strike~, `code`, ```pre```,
// <url|text> links, <@U123> user and <#C123|name> channel mentions,
// <!here> and friends, and the &amp; &lt; &gt; escapes Slack text carries.
"use strict";

const Mrkdwn = (() => {
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const unesc = (s) => String(s).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

  // ctx: {users: {id: {name, real_name}}, channels: {id: name}, me: id}
  function token(inner, ctx) {
    const [target, label] = splitOnce(inner, "|");
    if (target.startsWith("@")) {
      const id = target.slice(1);
      const u = ctx.users && ctx.users[id];
      const name = label || (u ? (u.real_name || u.name) : id);
      return `<span class="mention${id === ctx.me ? " me" : ""}" data-user="${esc(id)}">@${esc(name)}</span>`;
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      const name = label || (ctx.channels && ctx.channels[id]) || id;
      return `<a href="#" class="mention" data-channel="${esc(id)}">#${esc(name)}</a>`;
    }
    if (target.startsWith("!")) {
      const what = target.slice(1).split("^")[0];
      return `<span class="mention">@${esc(label || what)}</span>`;
    }
    const url = unesc(target);
    const safe = /^(https?:|mailto:)/i.test(url) ? url : "#";
    return `<a href="${esc(safe)}" target="_blank" rel="noopener">${esc(unesc(label || target))}</a>`;
  }

  function splitOnce(s, sep) {
    const i = s.indexOf(sep);
    return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
  }

  // inline formats one run of text that has no <...> tokens.
  function inline(text) {
    let h = esc(unesc(text));
    h = h.replace(/`([^`\n]+)`/g, "<code>$1</code>");
    h = h.replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/g, "$1<b>$2</b>");
    h = h.replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/g, "$1<i>$2</i>");
    h = h.replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,:;!?])/g, "$1<s>$2</s>");
    return h;
  }

  function toHTML(text, ctx) {
    if (!text) return "";
    ctx = ctx || {};
    const parts = [];
    // ```pre``` blocks first: nothing inside them is formatted.
    const segs = String(text).split("```");
    segs.forEach((seg, i) => {
      if (i % 2 === 1) { parts.push(`<pre>${esc(unesc(seg.replace(/^\n/, "")))}</pre>`); return; }
      let out = "", last = 0;
      const re = /<([^<>]+)>/g;
      let m;
      while ((m = re.exec(seg)) !== null) {
        out += inline(seg.slice(last, m.index)) + token(m[1], ctx);
        last = re.lastIndex;
      }
      out += inline(seg.slice(last));
      out = out.split("\n").map((line) => line.startsWith("&gt; ") ? `<blockquote>${line.slice(5)}</blockquote>` : line).join("<br>");
      parts.push(out);
    });
    return parts.join("");
  }

  function plain(obj, ctx) {
    if (!obj) return "";
    if (obj.type === "mrkdwn") return toHTML(obj.text, ctx);
    return esc(obj.text || "");
  }

  return { toHTML, plain, esc };
})();
